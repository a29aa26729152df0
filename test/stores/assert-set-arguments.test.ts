import { describe, expect, it } from 'vitest';
import { assertSetArguments, type SessionRecord } from '../../src/session/store.js';
import { createMemoryStore, MEMORY_STORE_NAME } from '../../src/stores/memory.js';
import { minimalRecord } from './contract.js';

type SetArguments = [key: string, record: SessionRecord, expected: number | null, ttlMs: number];

const bad: Array<[what: string, args: SetArguments, message: string]> = [
  ['an empty key', ['', minimalRecord(), null, 1_000], 'key must be a non-empty string'],
  [
    'a key that is not a string',
    [7 as never, minimalRecord(), null, 1_000],
    'key must be a non-empty string',
  ],
  ['a null record', ['k', null as never, null, 1_000], 'record must be an object'],
  ['a record that is a string', ['k', '{}' as never, null, 1_000], 'record must be an object'],
  [
    'data that is not a string',
    ['k', minimalRecord({ data: {} as never }), null, 1_000],
    'record.data must be a string',
  ],
  [
    'a fractional version',
    ['k', minimalRecord({ version: 1.5 }), null, 1_000],
    'record.version must be an integer',
  ],
  ['a fractional expected', ['k', minimalRecord(), 0.5, 1_000], 'expected must be an integer or null'],
  ['a NaN ttlMs', ['k', minimalRecord(), null, Number.NaN], 'ttlMs must be a finite number >= 0'],
  [
    'an infinite ttlMs',
    ['k', minimalRecord(), null, Number.POSITIVE_INFINITY],
    'ttlMs must be a finite number >= 0',
  ],
  ['a negative ttlMs', ['k', minimalRecord(), null, -1], 'ttlMs must be a finite number >= 0'],
];

describe('assertSetArguments (for store authors)', () => {
  it.each(bad)('throws a TypeError prefixed with the store name for %s', (_what, args, message) => {
    const call = () => assertSetArguments('test-store', ...args);
    expect(call).toThrow(TypeError);
    expect(call).toThrow(`[teller] [test-store] ${message}`);
  });

  it('accepts well-formed arguments (a first write, an update, a zero ttl)', () => {
    expect(() => assertSetArguments('test-store', 'k', minimalRecord(), null, 1_000)).not.toThrow();
    expect(() => assertSetArguments('test-store', 'k', minimalRecord({ version: 3 }), 2, 0)).not.toThrow();
  });

  it('is what a store answers bad arguments with, before writing anything', async () => {
    const store = createMemoryStore({ cleanupInterval: 0 });
    await expect(store.set('', minimalRecord(), null, 1_000)).rejects.toThrow(
      new TypeError(`[teller] [${MEMORY_STORE_NAME}] key must be a non-empty string`),
    );
    expect(await store.count()).toBe(0);
    await store.close();
  });
});
