/**
 * `openStore(url)`: each kind opened from its URL against the real server (SQLite file, Redis at REDIS_URL,
 * PostgreSQL at DATABASE_URL), a record written and read back through the store it opened, and the one-line
 * errors for what cannot be opened (unknown scheme, nothing listening, bad file), with the password masked.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { maskStoreUrl, openStore, StoreUrlError, storeKindOf } from '../../src/stores/url.js';
import { freePort } from '../support/net.js';
import { minimalRecord } from './contract.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pgUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'teller-url-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function roundTrip(url: string) {
  const opened = await openStore(url);
  try {
    const key = `url-test-${randomBytes(6).toString('hex')}`;
    const { store } = opened;
    const now = Date.now();
    const record = minimalRecord({
      data: '{"n":1}',
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 60_000,
    });
    await store.set(key, record, null, 60_000);
    expect((await store.get(key))?.data).toBe('{"n":1}');
    await store.delete(key);
    expect(await store.get(key)).toBeNull();
    return opened.kind;
  } finally {
    await opened.close();
  }
}

describe('openStore', () => {
  it('names the kind of each URL', () => {
    expect(storeKindOf('sqlite:.data/a.db')).toBe('sqlite');
    expect(storeKindOf('/var/lib/teller.db')).toBe('sqlite');
    expect(storeKindOf('file:///tmp/x.db')).toBe('sqlite');
    expect(storeKindOf('redis://h:1')).toBe('redis');
    expect(storeKindOf('rediss://h:1')).toBe('redis');
    expect(storeKindOf('postgresql://u@h/db')).toBe('postgres');
    expect(storeKindOf('memory:')).toBe('memory');
    expect(storeKindOf('mysql://h/db')).toBeUndefined();
  });

  it('masks the password', () => {
    expect(maskStoreUrl('redis://user:s3cret@h:6379/0')).toBe('redis://user:***@h:6379/0');
    expect(maskStoreUrl('sqlite:a.db')).toBe('sqlite:a.db');
  });

  it('opens a SQLite file (created), memory, Redis and PostgreSQL, each storing a record', async () => {
    expect(await roundTrip(`sqlite:${join(dir, 'a.db')}`)).toBe('sqlite');
    expect(await roundTrip(join(dir, 'b.db'))).toBe('sqlite');
    expect(await roundTrip('memory:')).toBe('memory');
    expect(await roundTrip(`${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=teller-url-test:`)).toBe(
      'redis',
    );
    const table = `teller_url_${randomBytes(4).toString('hex')}`;
    expect(await roundTrip(`${pgUrl}${pgUrl.includes('?') ? '&' : '?'}table=${table}`)).toBe('postgres');
    const { Pool } = (await import('pg')).default;
    const pool = new Pool({ connectionString: pgUrl });
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  it('fails with one line naming the URL, password masked, for what cannot be opened', async () => {
    const port = await freePort();
    const cases: [string, RegExp][] = [
      ['mysql://root@127.0.0.1/db', /mysql:\/\/root@127\.0\.0\.1\/db: not a store URL/],
      [`redis://u:hunter2@127.0.0.1:${port}`, /redis:\/\/u:\*\*\*@127\.0\.0\.1:\d+: cannot connect to Redis/],
      [`postgres://u:hunter2@127.0.0.1:${port}/db`, /postgres:\/\/u:\*\*\*@127\.0\.0\.1:\d+\/db: /],
      [`sqlite:${join(dir, 'missing-dir', 'x.db')}`, /cannot open the SQLite file/],
      ['', /empty/],
    ];
    for (const [url, message] of cases) {
      const started = Date.now();
      const error = await openStore(url, { connectTimeout: 1_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, url).toBeInstanceOf(StoreUrlError);
      const text = (error as Error).message;
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
      expect(text).not.toContain('hunter2');
      expect(Date.now() - started).toBeLessThan(4_000);
    }
  });
});
