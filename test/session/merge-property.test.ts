import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionConflictError } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

type Data = Record<string, number>;

interface Plan {
  manager: number;
  /** update('total', t => t + add) */
  add: number;
  /** set('shared', get('shared') + 1): read then written */
  readWrite: boolean;
  /** setImmediate turns between load and the writes */
  delay: number;
}

const plan: fc.Arbitrary<Plan> = fc.record({
  manager: fc.nat({ max: 3 }),
  add: fc.integer({ min: 0, max: 9 }),
  readWrite: fc.boolean(),
  delay: fc.nat({ max: 3 }),
});

describe('compare-and-set with per-key re-application (property)', () => {
  it('whatever the interleaving, a commit either lands whole or fails with SessionConflictError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(plan, { minLength: 1, maxLength: 25 }),
        fc.nat({ max: 2 }),
        async (plans, ticks) => {
          const store = new TestStore();
          const managers = Array.from({ length: 4 }, () => createSessionManager<Data>({ store }));
          const browser = new Browser();
          await visit(managers[0]!, browser, (s) => {
            s.set('total', 0);
            s.set('shared', 0);
          });
          const cookie = browser.header()!;
          store.ticks = ticks;
          const results = await Promise.allSettled(
            plans.map(async (p, i) => {
              const m = managers[p.manager]!;
              const s = await m.load(cookie, { now: T0 + 1000 });
              for (let d = 0; d < p.delay; d++) await new Promise((r) => setImmediate(r));
              s.update('total', (t = 0) => t + p.add);
              s.set(`mine${i}`, i);
              if (p.readWrite) s.set('shared', (s.get('shared') ?? 0) + 1);
              await m.commit(s);
            }),
          );
          const data = JSON.parse(store.sessions()[0]![1].data) as Data;
          let total = 0;
          let shared = 0;
          results.forEach((r, i) => {
            const p = plans[i]!;
            if (r.status === 'rejected') {
              expect(r.reason).toBeInstanceOf(SessionConflictError);
              expect(p.readWrite).toBe(true); // only read-then-written keys can conflict
              expect(data[`mine${i}`]).toBeUndefined();
            } else {
              total += p.add;
              if (p.readWrite) shared++;
              expect(data[`mine${i}`]).toBe(i);
            }
          });
          expect(data.total).toBe(total);
          expect(data.shared).toBe(shared);
        },
      ),
      { numRuns: 40 },
    );
  });
});
