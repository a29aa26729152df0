import { describe, expect, it } from 'vitest';
import { BATCH_BUDGET_MS, BatchSizer, OneAtATime } from '../../src/stores/_batches.js';

describe('BatchSizer: batches sized by the time their rows took', () => {
  it('starts at the first size, then fits the budget to the cost per row, within its bounds', () => {
    const sizer = new BatchSizer(200, 16, 5_000, 4);
    expect(sizer.size).toBe(200);
    sizer.took(200, 2); // 10 µs a row: 400 rows in 4 ms
    expect(sizer.size).toBe(400);
    sizer.took(400, 40); // 100 µs a row now: the average (55 µs) gives 72
    expect(sizer.size).toBe(72);
    for (let i = 0; i < 20; i++) sizer.took(100, 1_000); // 10 ms a row: the lower bound
    expect(sizer.size).toBe(16);
    for (let i = 0; i < 40; i++) sizer.took(sizer.size, 0); // no measurable time: the upper bound
    expect(sizer.size).toBe(5_000);
  });

  it('grows a batch at most twofold, however cheap the rows before', () => {
    const sizer = new BatchSizer(200, 16, 1_000_000, 4);
    sizer.took(200, 0.01); // 50 ns a row: 80,000 would fit the budget
    expect(sizer.size).toBe(400);
    sizer.took(400, 0.02);
    expect(sizer.size).toBe(800);
    // A smaller batch than asked (the last rows) is what the next doubles.
    sizer.took(10, 0.001);
    expect(sizer.size).toBe(20);
  });

  it('learns nothing from a batch of no rows', () => {
    const sizer = new BatchSizer(300);
    sizer.took(0, 50);
    expect(sizer.size).toBe(300);
  });

  it('budgets a few milliseconds, well under the 20 ms of delay the stores may cause', () => {
    expect(BATCH_BUDGET_MS).toBeGreaterThan(0);
    expect(BATCH_BUDGET_MS).toBeLessThanOrEqual(5);
  });
});

describe('OneAtATime: upkeep one call at a time', () => {
  it('starts a call made meanwhile once the running one settled, also after a failure; busy until then', async () => {
    const serial = new OneAtATime();
    const order: string[] = [];
    let release!: () => void;
    const first = serial.run(async () => {
      order.push('first starts');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      order.push('first ends');
      throw new Error('first failed');
    });
    const second = serial.run(async () => {
      order.push('second starts');
      return 2;
    });
    expect(serial.busy).toBe(true);
    await Promise.resolve();
    release();
    await expect(first).rejects.toThrow('first failed');
    expect(await second).toBe(2);
    expect(order).toEqual(['first starts', 'first ends', 'second starts']);
    await Promise.resolve();
    expect(serial.busy).toBe(false);
  });
});
