/**
 * A script (no server, no socket) awaiting a load that waits for the session's lock must not exit before
 * the wait ends (issue 16: such a script exited with code 13 and no message). Runs the built package by
 * name in a child process, after `npm run build` (as `npm test` does).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const script = `
import { createSessionManager } from 'teller';
import { createMemoryStore } from 'teller/stores/memory';
const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
const first = await manager.load(undefined);
first.set('n', 1);
const cookie = (await manager.commit(first)).setCookie[0].split(';')[0];
await manager.load(cookie); // loaded, never committed: its hold is never released
const next = await manager.load(cookie); // waits lockTimeout, then goes on
console.log('done', next.get('n'));
`;

describe('a script awaiting a load behind an abandoned one', () => {
  it('runs to its end (exit code 0), the wait ending by itself', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(out.trim()).toBe('done 1');
  });
});

/** A store that answers like the memory store but says it does I/O: its calls are watched for their deadline. */
const watchedStore = `
import { createMemoryStore } from 'teller/stores/memory';
const memory = createMemoryStore({ cleanupInterval: 0 });
const store = { ...memory, immediate: false, settlesInTurn: false };
`;

describe('a script and the deadline of its store calls', () => {
  it('exits as soon as its work is done: answered calls leave no timer keeping it alive', () => {
    const script = `${watchedStore}
import { createSessionManager } from 'teller';
const manager = createSessionManager({ store, storeTimeout: 60_000 });
const session = await manager.load(undefined);
session.set('n', 1);
await manager.commit(session);
console.log('done');
`;
    const started = performance.now();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out.trim()).toBe('done');
    // Not after storeTimeout (60 s): well before.
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('waits for a call that hangs until its deadline, and gets the timeout error', () => {
    const script = `${watchedStore}
import { createSessionManager } from 'teller';
const manager = createSessionManager({ store, storeTimeout: 300 });
const session = await manager.load(undefined);
session.set('n', 1);
const cookie = (await manager.commit(session)).setCookie[0].split(';')[0];
store.get = () => new Promise(() => {});
try {
  await manager.load(cookie);
} catch (error) {
  console.log(error.name);
}
`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(out.trim()).toBe('SessionStoreTimeoutError');
  });
});
