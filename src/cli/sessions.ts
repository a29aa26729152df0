/**
 * `teller sessions list|show|revoke|purge --store <url>`: the sessions a store holds, seen and ended from a
 * shell. A session is named by its store key (the SHA-256 of its id, as `list` prints it), never by its id:
 * nothing here prints an id. `show --id` takes an id (a cookie's value) and hashes it the manager's way.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { storeKeyOf } from '../session/ids.js';
import { createSessionManager } from '../session/manager.js';
import { resolveOptions } from '../session/options.js';
import { endedRecord, isLive, retirement } from '../session/records.js';
import type { SessionRecord, SessionStore } from '../session/store.js';
import { type OpenedStore, openStore, sqlitePath, storeKindOf } from '../stores/url.js';
import { CliError, isoOf, positiveInteger, printJson, progress, usageError } from './output.js';

interface StoreOptions {
  store: string;
  json?: boolean;
}

/** Records read per page of a scan. */
const PAGE = 500;

/** What a record is at `now`: a live session, one past its lifetime, an ended one, or a renewal pointer. */
export function stateOf(record: SessionRecord, now: number): 'live' | 'expired' | 'ended' | 'pointer' {
  if (record.movedTo !== undefined) return 'pointer';
  if (record.expiresAt === 0 || record.rotatedTo !== undefined) return 'ended';
  return now < record.expiresAt ? 'live' : 'expired';
}

/** The session data: the decoded JSON when it is JSON, else the serializer's string as it is. */
function dataOf(record: SessionRecord): unknown {
  try {
    return JSON.parse(record.data);
  } catch {
    return record.data;
  }
}

/** One line of `list --json`: the record's facts, without its data. */
function summary(key: string, record: SessionRecord, now: number) {
  return {
    key,
    state: stateOf(record, now),
    userId: record.userId ?? null,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    expiresAt: record.expiresAt,
    persistent: record.persistent === true,
    version: record.version,
    userAgent: record.meta?.userAgent ?? null,
    ip: record.meta?.ip ?? null,
    ...(record.movedTo === undefined ? {} : { movedTo: record.movedTo }),
  };
}

/** Opens `--store`: a URL of no known kind is a usage error; a SQLite file that does not exist is not created. */
async function open(url: string): Promise<OpenedStore> {
  const kind = storeKindOf(url);
  if (kind === undefined)
    throw usageError(`--store: not a store URL: use sqlite:<file>, redis://…, postgres://… or memory:`);
  if (kind === 'sqlite' && !existsSync(sqlitePath(url)))
    throw new CliError(`--store: no SQLite file at ${sqlitePath(url)}`);
  return openStore(url);
}

/** Runs `fn` on the store `--store` names, and closes it whatever happens. */
async function withStore<T>(url: string, fn: (opened: OpenedStore) => Promise<T>): Promise<T> {
  const opened = await open(url);
  try {
    return await fn(opened);
  } finally {
    await opened.close().catch(() => {});
  }
}

/** The pages of every record held (a scan), or of one user's (listByUser). */
async function* records(
  store: SessionStore,
  label: string,
  userId: string | undefined,
): AsyncGenerator<Array<{ key: string; record: SessionRecord }>> {
  if (userId !== undefined) {
    if (store.listByUser === undefined) throw new CliError(`${label}: this store has no user index`);
    yield await store.listByUser(userId);
    return;
  }
  if (store.scan === undefined)
    throw new CliError(`${label}: this store cannot list every session (no scan); use --user <id>`);
  let cursor: string | null = null;
  // A store may return a key twice (Redis SCAN); each is listed once.
  const seen = new Set<string>();
  do {
    const page: Awaited<ReturnType<NonNullable<SessionStore['scan']>>> = await store.scan(cursor, PAGE);
    yield page.entries.filter(({ key }) => !seen.has(key) && seen.add(key));
    cursor = page.cursor;
  } while (cursor !== null);
}

const storeOption = () =>
  new Option('--store <url>', 'the store: sqlite:<file>, redis://…[?prefix=], postgres://…[?table=], memory:')
    .env('TELLER_STORE')
    .makeOptionMandatory();
const jsonOption = () => new Option('--json', 'print JSON for scripts');

export function sessionsCommand(program: Command): void {
  const sessions = program
    .command('sessions')
    .description('list, show, revoke and purge the sessions a store holds');

  sessions
    .command('list')
    .description('list the sessions held (every one, or a user’s), named by their store key, never their id')
    .addOption(storeOption())
    .option('--user <id>', 'only the sessions of this user')
    .option('--limit <n>', 'list at most n sessions', positiveInteger('--limit'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nStates: live, expired (past its lifetime, not purged yet), ended (logged out or rotated: kept as a\nmarker), pointer (an old key renewed into `movedTo`, kept for a grace window).\nJSON: one array of { key, state, userId, createdAt, lastSeenAt, expiresAt (epoch ms), persistent, ... }.',
    )
    .action(async (options: StoreOptions & { user?: string; limit?: number }) => {
      await withStore(options.store, async ({ store, label }) => {
        const now = Date.now();
        const limit = options.limit ?? Number.POSITIVE_INFINITY;
        let shown = 0;
        if (options.json) process.stdout.write('[');
        else
          process.stdout.write(
            `${['KEY'.padEnd(43), 'STATE  ', 'USER', 'LAST SEEN', 'EXPIRES'].join('  ')}\n`,
          );
        outer: for await (const page of records(store, label, options.user)) {
          for (const { key, record } of page) {
            if (shown === limit) break outer;
            if (options.json) {
              process.stdout.write(`${shown === 0 ? '' : ','}\n${JSON.stringify(summary(key, record, now))}`);
            } else {
              const line = [
                key.padEnd(43),
                stateOf(record, now).padEnd(7),
                record.userId ?? '-',
                isoOf(record.lastSeenAt),
                isoOf(record.expiresAt),
              ];
              process.stdout.write(`${line.join('  ')}\n`);
            }
            shown++;
          }
        }
        if (options.json) process.stdout.write(shown === 0 ? ']\n' : '\n]\n');
        else process.stdout.write(`${shown} session${shown === 1 ? '' : 's'}\n`);
      });
    });

  sessions
    .command('show')
    .description('show one session: its record and its data (decoded when JSON)')
    .argument('<key>', 'the store key, as `list` prints it (one starting with "-" goes after "--")')
    .option('--id', 'the argument is a session id (a cookie value; a signed one too), hashed to its key')
    .addOption(storeOption())
    .addOption(jsonOption())
    .action(async (keyOrId: string, options: StoreOptions & { id?: boolean }) => {
      // A signed cookie value is `id.signature`: the id is before the dot (not checked here).
      const key = options.id ? storeKeyOf(keyOrId.split('.')[0] as string) : keyOrId;
      await withStore(options.store, async ({ store }) => {
        const record = await store.get(key);
        if (record === null) throw new CliError(`no session under the key ${key}`);
        const now = Date.now();
        if (options.json) {
          printJson({ ...summary(key, record, now), data: dataOf(record), record });
          return;
        }
        const facts = summary(key, record, now);
        const lines = [
          ['key', key],
          ['state', facts.state],
          ['user', facts.userId ?? '-'],
          ['created', isoOf(record.createdAt)],
          ['last seen', isoOf(record.lastSeenAt)],
          ['expires', isoOf(record.expiresAt)],
          ['persistent', String(facts.persistent)],
          ['version', String(record.version)],
          ['user agent', facts.userAgent ?? '-'],
          ['ip', facts.ip ?? '-'],
        ];
        if (record.movedTo !== undefined) lines.push(['renewed to', record.movedTo]);
        if (record.rotatedTo !== undefined) lines.push(['rotated to', record.rotatedTo]);
        for (const [name, value] of lines) process.stdout.write(`${`${name}:`.padEnd(12)}${value}\n`);
        process.stdout.write(`data:\n${JSON.stringify(dataOf(record), null, 2)}\n`);
      });
    });

  sessions
    .command('revoke')
    .description('end one session (by key), or every session of a user (--user)')
    .argument('[key]', 'the store key, as `list` prints it (one starting with "-" goes after "--")')
    .option('--user <id>', 'end every session of this user ("log out everywhere")')
    .option('--except <key>', 'with --user: keep this session')
    .addOption(storeOption())
    .addOption(jsonOption())
    .action(async (key: string | undefined, options: StoreOptions & { user?: string; except?: string }) => {
      if ((key === undefined) === (options.user === undefined))
        throw usageError('revoke takes a key or --user <id>, one of them');
      if (options.except !== undefined && options.user === undefined)
        throw usageError('--except goes with --user');
      await withStore(options.store, async ({ store }) => {
        let revoked: number;
        if (key !== undefined) {
          revoked = await revokeKey(store, key, Date.now());
        } else {
          // The manager's "log out everywhere", as the app does it (deleteByUser, or listByUser then delete).
          const manager = createSessionManager({ store, storeTimeout: 600_000 });
          revoked = await manager.revokeSessions(options.user as string, {
            ...(options.except === undefined ? {} : { except: options.except }),
          });
        }
        if (options.json) printJson({ revoked });
        else process.stdout.write(`${revoked} session${revoked === 1 ? '' : 's'} revoked\n`);
      });
    });

  sessions
    .command('purge')
    .description('delete the records whose lifetime ended (Redis expires them itself)')
    .addOption(storeOption())
    .addOption(jsonOption())
    .action(async (options: StoreOptions) => {
      await withStore(options.store, async ({ store, kind, label }) => {
        if (store.purgeExpired === undefined) {
          const why =
            kind === 'redis'
              ? 'Redis drops each record itself when its lifetime ends (PEXPIRE): nothing to purge'
              : 'this store has no purge';
          if (options.json) printJson({ purged: 0, supported: false, reason: why });
          else process.stdout.write(`${label}: ${why}\n`);
          return;
        }
        const started = Date.now();
        let sofar = 0;
        // The store tells how many it removed after each batch; how many are left, nothing tells.
        const shown = options.json
          ? undefined
          : progress('purging expired sessions:', () => `${sofar.toLocaleString('en')} removed so far`);
        let purged: number;
        try {
          purged = await store.purgeExpired(started, {
            onProgress: (removed) => {
              sofar = removed;
            },
          });
        } finally {
          shown?.stop();
        }
        const seconds = (Date.now() - started) / 1000;
        if (options.json) printJson({ purged, supported: true, seconds });
        else
          process.stdout.write(
            `purged ${purged} expired session record${purged === 1 ? '' : 's'} in ${seconds.toFixed(1)} s\n`,
          );
      });
    });
}

/** Reads and compare-and-sets before `revoke <key>` gives up (a session the app writes that often is in use). */
const REVOKE_ATTEMPTS = 5;

/**
 * One session ended by key as `revokeSessions` ends a user's: replaced by its retirement record (`retired.by:
 * 'revoke'`, kept for the default lifetimes), so its id presented again raises the app's `reuse` event; deleted
 * with a store that keeps no such records (`lockOnly`: an express-session store). 1 when a live session ended
 * here; 0 when none was there: nothing, an expired record (deleted), or a record already retired or moved on (a
 * logout's, a renewal's pointer, a login's tombstone: left as they are, and a renewal's successor lives on). When
 * the app writes the record meanwhile (the compare-and-set fails), it reads again: it never deletes or overwrites a
 * record it did not read.
 */
export async function revokeKey(store: SessionStore, key: string, now: number): Promise<number> {
  const options = resolveOptions({ store });
  for (let attempt = 0; attempt < REVOKE_ATTEMPTS; attempt++) {
    const record = await store.get(key);
    if (record === null || record.retired !== undefined || record.movedTo !== undefined) return 0;
    if (!isLive(record, now)) {
      await store.delete(key);
      return 0;
    }
    if (store.lockOnly === true) {
      await store.delete(key);
      return 1;
    }
    // What the manager's own logout leaves (records.ts `retirement`), by 'revoke'.
    const mark = retirement(options, record, 'revoke', now);
    if (await store.set(key, endedRecord(record.version, mark), record.version, mark.ttl)) return 1;
  }
  throw new CliError(
    `the session under ${key} kept changing while being revoked; it was not revoked: try again`,
  );
}
