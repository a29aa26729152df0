/**
 * The stores' upkeep helpers. Batch sizes for the upkeep that runs on the event loop (a purge, a revocation): each batch is sized to take
 * about {@link BATCH_BUDGET_MS}, from the cost per row the previous batches took, so the loop is never held
 * for long whatever the rows cost (issue 17: 13 µs a removed row at 10,000 SQLite sessions, 31 µs at a
 * million, and more on a slow disk). Between batches the caller yields a turn of the event loop.
 */

/** The time one batch should take (ms): well under the 20 ms of event-loop delay the stores may cause. */
export const BATCH_BUDGET_MS = 4;

export class BatchSizer {
  /** The cost of a row (ms), a moving average over the batches so far; undefined before the first. */
  private perRow: number | undefined;
  /** The size of the last batch recorded: the next is at most twice as large. */
  private last: number;

  constructor(
    private readonly first: number,
    private readonly min = 16,
    private readonly max = 5_000,
    private readonly budgetMs = BATCH_BUDGET_MS,
  ) {
    this.last = first;
  }

  /**
   * How many rows the next batch takes: what fits the budget at the cost per row so far, but at most twice the
   * last batch (rows that were cheap because their pages were in memory say little of the next ones: a purge
   * at a million SQLite sessions went from 200 cheap rows to 5,000 at once, and blocked 289 ms).
   */
  get size(): number {
    if (this.perRow === undefined) return this.first;
    const size = Math.floor(this.budgetMs / this.perRow);
    return Math.min(this.max, this.last * 2, Math.max(this.min, size));
  }

  /** Records a batch: `rows` handled in `elapsedMs`. A batch of no rows tells nothing. */
  took(rows: number, elapsedMs: number): void {
    if (rows <= 0) return;
    // A clock that did not move (a batch faster than its resolution) still counts as some cost.
    this.last = rows;
    const perRow = Math.max(elapsedMs, 0.001) / rows;
    this.perRow = this.perRow === undefined ? perRow : this.perRow * 0.5 + perRow * 0.5;
  }
}

/**
 * Runs upkeep one call at a time (a purge): a call made while one runs starts when it has settled, whatever its
 * outcome. `busy` while any runs or waits (a cleanup timer skips its tick then).
 */
export class OneAtATime {
  #last: Promise<unknown> | undefined;

  get busy(): boolean {
    return this.#last !== undefined;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    const next = (this.#last ?? Promise.resolve()).then(work, work);
    this.#last = next;
    const settled = () => {
      if (this.#last === next) this.#last = undefined;
    };
    next.then(settled, settled);
    return next;
  }
}
