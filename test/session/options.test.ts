import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { TestStore } from './helpers.js';

describe('options checked at construction', () => {
  it.each([0, -1, 1.5, Number.NaN, '64k'])(
    'a bad maxDataBytes (%s) is reported as a size in bytes, not a duration',
    (value) => {
      const make = () => createSessionManager({ store: new TestStore(), maxDataBytes: value as number });
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/^\[teller\] \[session\] maxDataBytes must be a positive whole number of bytes$/);
    },
  );

  it('a good maxDataBytes is taken', () => {
    expect(() => createSessionManager({ store: new TestStore(), maxDataBytes: 1024 })).not.toThrow();
  });
});
