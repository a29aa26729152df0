/** The memory store's expiry heap (issue 17): order, slots and counts under random pushes, moves and removals. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryHeap } from '../../src/stores/_expiry.js';

interface Item {
  slot: number;
  name: number;
}

type Op =
  | { kind: 'push'; time: number }
  /** pick: which held item, as a fraction of 10,000 of their count (uniform, not biased to the first ones). */
  | { kind: 'replace'; pick: number; time: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'popBefore'; now: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), time: fc.integer({ min: 0, max: 50 }) }),
  fc.record({
    kind: fc.constant('replace' as const),
    pick: fc.nat({ max: 9_999 }),
    time: fc.integer({ min: 0, max: 50 }),
  }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat({ max: 9_999 }) }),
  fc.record({ kind: fc.constant('popBefore' as const), now: fc.integer({ min: 0, max: 52 }) }),
);

describe('expiry heap', () => {
  it('keeps every item at its slot, gives the earliest first, and counts those before a time (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200, size: 'max' }), (ops) => {
        const heap = new ExpiryHeap<Item>();
        /** The model: each held item and its time. */
        const model = new Map<Item, number>();
        let names = 0;
        const held = () => [...model.keys()];
        for (const o of ops) {
          if (o.kind === 'push') {
            const item = { slot: -1, name: names++ };
            heap.push(item, o.time);
            model.set(item, o.time);
          } else if (o.kind === 'replace' && model.size > 0) {
            const old = held()[Math.floor((o.pick / 10_000) * model.size)]!;
            const item = { slot: -1, name: names++ };
            heap.replace(old, item, o.time);
            model.delete(old);
            model.set(item, o.time);
          } else if (o.kind === 'remove' && model.size > 0) {
            const item = held()[Math.floor((o.pick / 10_000) * model.size)]!;
            heap.remove(item);
            model.delete(item);
          } else if (o.kind === 'popBefore') {
            const dead = [...model.values()].filter((t) => t < o.now).length;
            expect(heap.countBefore(o.now)).toBe(dead);
            const popped: number[] = [];
            for (let item = heap.firstBefore(o.now); item !== undefined; item = heap.firstBefore(o.now)) {
              popped.push(model.get(item)!);
              heap.remove(item);
              model.delete(item);
            }
            expect(popped).toHaveLength(dead);
            // Earliest first.
            expect(popped).toEqual([...popped].sort((a, b) => a - b));
          }
          expect(heap.size).toBe(model.size);
          const wrong = [...model].filter(([item, time]) => heap.timeOf(item) !== time);
          expect(wrong).toEqual([]);
          // The heap order, seen from outside: countBefore (which skips the subtree under a later time) is
          // right at every threshold only when no item sits below a later one.
          const times = [...model.values()];
          const miscounted = [];
          for (let now = 0; now <= 51; now++) {
            const expected = times.filter((t) => t < now).length;
            if (heap.countBefore(now) !== expected) miscounted.push(now);
          }
          expect(miscounted).toEqual([]);
        }
      }),
      { numRuns: 150, seed: 17 },
    );
  });

  it('moves the last item up when it takes the place of a removed one under a later parent', () => {
    const heap = new ExpiryHeap<Item>();
    // Slots: [0, 10, 1, 11, 12, 2, 3]: 11 sits under 10, the last item (3) in the other subtree.
    const items = [0, 10, 1, 11, 12, 2, 3].map((time, name) => {
      const item = { slot: -1, name };
      heap.push(item, time);
      return item;
    });
    heap.remove(items[3]!);
    // 3 now takes slot 3, under 10: it must move up, or a walk from the root misses it.
    expect(heap.countBefore(4)).toBe(4);
    const order: number[] = [];
    for (let item = heap.firstBefore(100); item !== undefined; item = heap.firstBefore(100)) {
      order.push(heap.timeOf(item));
      heap.remove(item);
    }
    expect(order).toEqual([0, 1, 2, 3, 10, 12]);
  });

  it('holds a million items, then gives back exactly those before a time, earliest first', () => {
    const heap = new ExpiryHeap<Item>();
    const n = 1_000_000;
    // A spread of times out of order (a multiplicative permutation of 0..n-1).
    for (let i = 0; i < n; i++) heap.push({ slot: -1, name: i }, (i * 7_919) % n);
    expect(heap.size).toBe(n);
    expect(heap.countBefore(100_000)).toBe(100_000);
    let last = -1;
    let popped = 0;
    let outOfOrder = 0;
    for (let item = heap.firstBefore(100_000); item !== undefined; item = heap.firstBefore(100_000)) {
      const time = heap.timeOf(item);
      if (time < last) outOfOrder++;
      last = time;
      heap.remove(item);
      popped++;
    }
    expect(popped).toBe(100_000);
    expect(outOfOrder).toBe(0);
    expect(last).toBe(99_999);
    expect(heap.size).toBe(n - 100_000);
    expect(heap.countBefore(100_000)).toBe(0);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.firstBefore(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});
