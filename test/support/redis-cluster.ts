/**
 * A Redis Cluster of the test's own: `masters` redis-server processes (no replicas) on free loopback ports whose
 * port + 10000 (the cluster bus) is free too, in a temporary directory, joined by `redis-cli --cluster create
 * … --cluster-yes` (no stdin in CI). The shared Redis on 6379 is never touched. `stop()` kills every node and
 * removes the directory; a process exit kills them too, so a failed or interrupted run leaves none behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, reachable } from './net.js';
import { commandRuns } from './redis-server.js';

const HOST = '127.0.0.1';
/** How long the cluster may take to start, or a node to come back, before the helper gives up. */
const START_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CRC16/XMODEM, the checksum of Redis Cluster key slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = (crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1) & 0xffff;
  }
  return crc;
}

/** The slot of `key`, as Redis Cluster computes it: of the hash tag (`{…}`, not empty) when there is one. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  const close = open === -1 ? -1 : bytes.indexOf(0x7d, open + 1);
  return crc16(close > open + 1 ? bytes.subarray(open + 1, close) : bytes) % 16384;
}

/** Whether `redis-server` and `redis-cli` can be run here. */
export async function redisClusterToolsInstalled(): Promise<boolean> {
  return (await commandRuns('redis-server')) && (await commandRuns('redis-cli'));
}

/** Runs `redis-cli -p port …args` (bounded: 10 s) and returns its output. */
export function cli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      ['-h', HOST, '-p', String(port), ...args],
      { timeout: 10_000, encoding: 'utf8' },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

export interface OwnRedisCluster {
  /** The masters' ports, in the order of their slot ranges (the first owns slot 0). */
  readonly ports: number[];
  /** The masters as clients take them: `{ host, port }` and `redis://` URLs. */
  readonly nodes: Array<{ host: string; port: number }>;
  readonly urls: string[];
  /** The port of the master owning `key` (its slot, by {@link keySlot}). */
  ownerOf(key: string): number;
  /** Kills one node (SIGKILL: no goodbye to the cluster) and waits for its exit. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again on its port with its nodes.conf: it rejoins with its slots, empty. */
  restart(port: number): Promise<void>;
  /** Kills every node and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

/** The live nodes of every started cluster, killed by a process exit that skipped stop(). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    running.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Starts a cluster of `masters` nodes (at least 3, what `redis-cli --cluster create` needs). */
export async function startRedisCluster({ masters = 3 } = {}): Promise<OwnRedisCluster> {
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const dir = await mkdtemp(path.join(tmpdir(), 'teller-redis-cluster-'));
  const children = new Map<number, ChildProcess>();

  /** One node on `port`, its nodes.conf and log in the directory; resolves once it accepts connections. */
  async function startNode(port: number): Promise<void> {
    // biome-ignore format: one flag and its value a line
    const args = [
      '--port', String(port),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
      '--dir', dir,
      '--logfile', path.join(dir, `${port}.log`),
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    children.set(port, child);
    running.add(child);
    for (let waited = 0; waited < START_MS; waited += 50) {
      if (child.exitCode !== null) break;
      if (await reachable(HOST, port)) return;
      await sleep(50);
    }
    await killed(child);
    const log = await readFile(path.join(dir, `${port}.log`), 'utf8').catch(() => '');
    throw new Error(`redis-server on port ${port} did not start:\n${log.slice(-2000)}`);
  }

  /** Waits (bounded) for every live node to report `cluster_state:ok` and to know all the others. */
  async function settled(ports: number[]): Promise<void> {
    let last = '';
    for (let waited = 0; waited < START_MS; waited += 100) {
      const infos = await Promise.all(ports.map((port) => cli(port, 'CLUSTER', 'INFO').catch(String)));
      if (infos.every((info) => /cluster_state:ok/.test(info) && info.includes(`known_nodes:${masters}`)))
        return;
      last = infos.join('\n');
      await sleep(100);
    }
    throw new Error(`the Redis Cluster did not reach cluster_state:ok:\n${last}`);
  }

  const stop = async () => {
    await Promise.all([...children.values()].map(killed));
    children.clear();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const ports: number[] = [];
    let failures = 0;
    while (ports.length < masters) {
      const port = await freePort();
      if (ports.includes(port)) continue;
      // A port free a moment ago may be taken when the server binds it: try another (a few times).
      try {
        await startNode(port);
        ports.push(port);
      } catch (error) {
        children.delete(port);
        if (++failures === 3) throw error;
      }
    }
    const created = await new Promise<string>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((port) => `${HOST}:${port}`), '--cluster-yes'],
        { timeout: START_MS, encoding: 'utf8' },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`redis-cli --cluster create failed: ${stdout}${stderr}`))
            : resolve(stdout),
      );
    });
    if (!created.includes('[OK] All 16384 slots covered'))
      throw new Error(`redis-cli --cluster create did not cover every slot:\n${created}`);
    await settled(ports);

    // Who owns what, from CLUSTER NODES: `<id> <ip:port@bus> <flags> <master> … <slot ranges>`.
    const owners: Array<{ from: number; to: number; port: number }> = [];
    for (const line of (await cli(ports[0] as number, 'CLUSTER', 'NODES')).split('\n')) {
      const fields = line.trim().split(' ');
      if (fields.length < 9) continue;
      const port = Number(fields[1]?.split('@')[0]?.split(':')[1]);
      for (const range of fields.slice(8)) {
        const [from, to = from] = range.split('-').map(Number) as [number, number?];
        owners.push({ from, to, port });
      }
    }
    owners.sort((a, b) => a.from - b.from);
    const ordered = [...new Set(owners.map((o) => o.port))];

    return {
      ports: ordered,
      nodes: ordered.map((port) => ({ host: HOST, port })),
      urls: ordered.map((port) => `redis://${HOST}:${port}`),
      ownerOf(key) {
        const slot = keySlot(key);
        const owner = owners.find((o) => slot >= o.from && slot <= o.to);
        if (owner === undefined) throw new Error(`no node owns slot ${slot}`);
        return owner.port;
      },
      async kill(port) {
        const child = children.get(port);
        if (child === undefined) throw new Error(`no node of this cluster on port ${port}`);
        await killed(child);
      },
      async restart(port) {
        await startNode(port);
        await settled([port]);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
