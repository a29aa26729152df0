/**
 * Private part of `teller/stores/redis`: the four clients it takes (node-redis or ioredis, standalone or
 * Cluster) seen as one {@link RedisConnection}, and the refusal, with the option to set, of a client that would
 * queue a command while Redis is down and send it after the reconnect (a request answered 503 must never land
 * its write later).
 */
import { tellerMessage } from '../session/errors.js';

/** The `'error'` listener part of a client (all four are EventEmitters). */
interface ErrorEvents {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  off(event: 'error', listener: (error: unknown) => void): unknown;
}

/** The part of a node-redis (`redis` 5) client the store uses: `createClient({ disableOfflineQueue: true })`. */
export interface NodeRedisClientLike extends ErrorEvents {
  sendCommand(args: string[]): Promise<unknown>;
  readonly options?: { readonly disableOfflineQueue?: boolean | undefined } | undefined;
}

/**
 * The part of a node-redis (`redis` 5) cluster client the store uses:
 * `createCluster({ rootNodes, defaults: { disableOfflineQueue: true } })`.
 */
export interface NodeRedisClusterLike extends ErrorEvents {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  readonly masters: readonly unknown[];
  nodeClient(node: unknown): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
  readonly _options: {
    readonly defaults?: { readonly disableOfflineQueue?: boolean | undefined } | undefined;
  };
}

/** The part of an ioredis 5 client the store uses: `new Redis({ enableOfflineQueue: false, ... })`. */
export interface IoRedisClientLike extends ErrorEvents {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** Its connection closed (the store fails the commands still in flight on it). */
  on(event: 'close', listener: () => void): unknown;
  off(event: 'error', listener: (error: unknown) => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly options: {
    readonly enableOfflineQueue?: boolean | undefined;
    readonly autoResendUnfulfilledCommands?: boolean | undefined;
    readonly keyPrefix?: string | undefined;
  };
}

/** One node connection of an ioredis Cluster. */
interface IoRedisNodeLike {
  readonly status: string;
  readonly options: { readonly host?: string | undefined; readonly port?: number | undefined };
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * The part of an ioredis 5 Cluster the store uses: `new Cluster(nodes, { enableOfflineQueue: false,
 * retryDelayOnFailover: 0, redisOptions: { autoResendUnfulfilledCommands: false } })`.
 */
export interface IoRedisClusterLike extends ErrorEvents {
  readonly isCluster: boolean;
  call(command: string, ...args: string[]): Promise<unknown>;
  /** Slot → node keys (`host:port`), the master's first. */
  readonly slots: ReadonlyArray<readonly string[] | undefined>;
  nodes(role: 'master'): IoRedisNodeLike[];
  readonly options: {
    readonly enableOfflineQueue?: boolean | undefined;
    readonly retryDelayOnFailover?: number | undefined;
    readonly scaleReads?: unknown;
    readonly keyPrefix?: string | undefined;
    readonly redisOptions?: { readonly autoResendUnfulfilledCommands?: boolean | undefined } | undefined;
  };
}

export type RedisClientLike =
  | NodeRedisClientLike
  | NodeRedisClusterLike
  | IoRedisClientLike
  | IoRedisClusterLike;

/** Sends one command to one server. */
export type SendTo = (args: string[]) => Promise<unknown>;

/** What the store needs of a client, whichever of the four it is. */
export interface RedisConnection {
  /** Sends a command about `key`: a cluster client sends it to the master owning the key's slot. */
  send(key: string, args: string[]): Promise<unknown>;
  /** A sender per master (the server itself when standalone), for the commands that walk the keyspace. */
  masters(): Promise<SendTo[]>;
  /** What the client adds before every key (ioredis `keyPrefix`): a SCAN pattern must include it. */
  readonly keyPrefix: string;
  /** Removes the listeners the connection added to the client (the store's `close()`). */
  dispose(): void;
}

/**
 * The client as a {@link RedisConnection}; a TypeError naming the option when it would queue commands while
 * Redis is down, or when it is no client of either library.
 */
export function connectionFor(client: RedisClientLike, part: string): RedisConnection {
  const refuse = (text: string) => new TypeError(tellerMessage(part, text));
  const why = 'so a command while Redis is down fails at once and is never replayed later';
  if (client === null || typeof client !== 'object')
    throw refuse('client must be a node-redis or ioredis client (standalone or cluster)');

  // ioredis first: it has a sendCommand too, taking a Command object.
  if (typeof (client as IoRedisClientLike).call === 'function') {
    if ((client as IoRedisClusterLike).isCluster === true)
      return ioRedisCluster(client as IoRedisClusterLike);
    const io = client as IoRedisClientLike;
    if (io.options?.enableOfflineQueue !== false)
      throw refuse(`the ioredis client must be created with enableOfflineQueue: false, ${why}`);
    if (io.options.autoResendUnfulfilledCommands !== false) {
      throw refuse(
        'the ioredis client must be created with autoResendUnfulfilledCommands: false, so a command cut off by a disconnect is never replayed after the reconnect',
      );
    }
    // ioredis 5 never settles a command that was in flight when its connection closed, once it reconnects
    // with autoResendUnfulfilledCommands off (redis/ioredis#2193; until then, not before its 21st retry): a
    // request would wait its whole storeTimeout for an answer that never comes, and the promise would stay
    // pending for good. So the commands in flight are tracked and failed when the connection closes.
    const inFlight = new Set<(error: unknown) => void>();
    const send: SendTo = ([command, ...args]) =>
      new Promise((resolve, reject) => {
        inFlight.add(reject);
        io.call(command as string, ...args).then(
          (value) => {
            inFlight.delete(reject);
            resolve(value);
          },
          (failure: unknown) => {
            inFlight.delete(reject);
            reject(failure);
          },
        );
      });
    const failInFlight = () => {
      if (inFlight.size === 0) return;
      const closed = new Error('the connection to Redis closed before the command was answered');
      for (const reject of inFlight) reject(closed);
      inFlight.clear();
    };
    io.on('close', failInFlight);
    return {
      send: (_key, args) => send(args),
      masters: async () => [send],
      keyPrefix: io.options.keyPrefix ?? '',
      dispose: () => io.off('close', failInFlight),
    };
  }

  if (typeof (client as NodeRedisClusterLike).nodeClient === 'function') {
    return nodeRedisCluster(client as NodeRedisClusterLike);
  }

  if (typeof (client as NodeRedisClientLike).sendCommand === 'function') {
    const node = client as NodeRedisClientLike;
    if (node.options?.disableOfflineQueue !== true)
      throw refuse(`the node-redis client must be created with disableOfflineQueue: true, ${why}`);
    const send: SendTo = (args) => node.sendCommand(args);
    return { send: (_key, args) => send(args), masters: async () => [send], keyPrefix: '', dispose() {} };
  }
  throw refuse('client must be a node-redis or ioredis client (it has neither call() nor sendCommand())');

  function nodeRedisCluster(cluster: NodeRedisClusterLike): RedisConnection {
    // Its node clients are made from `defaults` (the root nodes' options serve only to discover the cluster).
    if (cluster._options?.defaults?.disableOfflineQueue !== true) {
      throw refuse(
        `the node-redis cluster client must be created with defaults: { disableOfflineQueue: true } (the option of its node clients), ${why}`,
      );
    }
    return {
      // Not read-only, even for reads: a replica (useReplicas) may still hold a session just revoked.
      send: (key, args) => cluster.sendCommand(key, false, args),
      async masters() {
        if (cluster.masters.length === 0)
          throw new Error('the cluster client knows no master: connect it first');
        const clients = await Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
        return clients.map((node) => (args: string[]) => node.sendCommand(args));
      },
      keyPrefix: '',
      dispose() {},
    };
  }

  function ioRedisCluster(cluster: IoRedisClusterLike): RedisConnection {
    const options = cluster.options ?? {};
    if (options.enableOfflineQueue !== false)
      throw refuse(`the ioredis Cluster must be created with enableOfflineQueue: false, ${why}`);
    // Otherwise a command cut off by a lost node is sent again, after that delay, to whichever node answers.
    if (options.retryDelayOnFailover !== 0) {
      throw refuse(
        'the ioredis Cluster must be created with retryDelayOnFailover: 0, so a command to a lost node fails at once and is never sent again later',
      );
    }
    // Its nodes reconnect when clusterNodeRetryStrategy is set, and would then resend the commands cut off.
    if (options.redisOptions?.autoResendUnfulfilledCommands !== false) {
      throw refuse(
        'the ioredis Cluster must be created with redisOptions: { autoResendUnfulfilledCommands: false }, so a command cut off by a disconnect is never replayed after the reconnect',
      );
    }
    if (options.scaleReads !== undefined && options.scaleReads !== 'master') {
      throw refuse(
        "the ioredis Cluster must read from masters (scaleReads: 'master', its default): a replica may still hold a session just revoked",
      );
    }
    const send: SendTo = ([command, ...args]) => cluster.call(command as string, ...args);
    return {
      // ioredis routes a command by its first key (EVALSHA and EVAL: by KEYS[1]).
      send: (_key, args) => send(args),
      async masters() {
        const nodes = new Map<string, IoRedisNodeLike>();
        for (const node of cluster.nodes('master'))
          nodes.set(`${node.options.host}:${node.options.port}`, node);
        const owners = new Set<string>();
        for (const slot of cluster.slots) if (slot?.[0] !== undefined) owners.add(slot[0]);
        if (owners.size === 0) throw new Error('the cluster client knows no master: connect it first');
        // A master the slot table names but the client dropped (lost): fail rather than count without it.
        return [...owners].map((owner) => (args: string[]) => {
          const node = nodes.get(owner);
          // What the Cluster itself checks before sending: a node still to connect, or connected, may be used.
          if (node === undefined || (node.status !== 'ready' && node.status !== 'wait'))
            return Promise.reject(new Error(`the master ${owner} is not connected`));
          return node.call(args[0] as string, ...args.slice(1));
        });
      },
      keyPrefix: options.keyPrefix ?? '',
      dispose() {},
    };
  }
}
