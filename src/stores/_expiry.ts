/**
 * Private helper of the memory store: its expiry structure, a binary min-heap of items ordered by their drop
 * time, so a purge touches only what expired (the earliest first) instead of scanning every record.
 *
 * The times live in one `Float64Array` beside the items (a flat array: a sift compares numbers next to each
 * other instead of following a pointer per comparison, and no time is boxed on the heap); each item carries
 * its `slot` in the heap, so an item rewritten with another time, or deleted, is moved or removed in
 * O(log n) with nothing stale left behind.
 */

/** An item of the heap: the heap keeps `slot` up to date (its index), nobody else writes it. */
export interface Slotted {
  slot: number;
}

const MIN_CAPACITY = 16;

export class ExpiryHeap<T extends Slotted> {
  #items: T[] = [];
  #times = new Float64Array(MIN_CAPACITY);

  get size(): number {
    return this.#items.length;
  }

  /** The drop time of an item held by the heap. */
  timeOf(item: T): number {
    return this.#times[item.slot]!;
  }

  push(item: T, time: number): void {
    const slot = this.#items.length;
    if (slot === this.#times.length) this.#resize(slot * 2);
    this.#items.push(item);
    this.#times[slot] = time;
    item.slot = slot;
    this.#up(slot);
  }

  /** Puts `item` in the place of `old` (held by the heap) with the drop time `time`, and restores the order. */
  replace(old: T, item: T, time: number): void {
    const slot = old.slot;
    const before = this.#times[slot]!;
    this.#items[slot] = item;
    this.#times[slot] = time;
    item.slot = slot;
    if (time < before) this.#up(slot);
    else if (time > before) this.#down(slot);
  }

  /** Removes an item held by the heap. */
  remove(item: T): void {
    const slot = item.slot;
    const lastSlot = this.#items.length - 1;
    const last = this.#items.pop()!;
    if (slot !== lastSlot) {
      const time = this.#times[lastSlot]!;
      const before = this.#times[slot]!;
      this.#items[slot] = last;
      this.#times[slot] = time;
      last.slot = slot;
      if (time < before) this.#up(slot);
      else this.#down(slot);
    }
    const capacity = this.#times.length;
    if (capacity > MIN_CAPACITY && lastSlot < capacity / 4) this.#resize(capacity / 2);
  }

  /** The item with the earliest drop time when that time is before `now` (dead at `now`), else undefined. */
  firstBefore(now: number): T | undefined {
    return this.#items.length > 0 && this.#times[0]! < now ? this.#items[0] : undefined;
  }

  /**
   * How many items have a drop time before `now`, without removing them: a walk of the heap that stops at
   * every time not before `now` (the subtree under it is later), so it visits only those items, in the flat
   * array of times.
   */
  countBefore(now: number): number {
    const times = this.#times;
    const size = this.#items.length;
    if (size === 0 || !(times[0]! < now)) return 0;
    let count = 0;
    const stack = [0];
    while (stack.length > 0) {
      const slot = stack.pop()!;
      count++;
      const left = 2 * slot + 1;
      if (left < size && times[left]! < now) stack.push(left);
      if (left + 1 < size && times[left + 1]! < now) stack.push(left + 1);
    }
    return count;
  }

  clear(): void {
    this.#items = [];
    this.#times = new Float64Array(MIN_CAPACITY);
  }

  #resize(capacity: number): void {
    const times = new Float64Array(capacity);
    times.set(this.#times.subarray(0, Math.min(capacity, this.#items.length)));
    this.#times = times;
  }

  #up(slot: number): void {
    const items = this.#items;
    const times = this.#times;
    const item = items[slot]!;
    const time = times[slot]!;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      const parentTime = times[parent]!;
      if (parentTime <= time) break;
      const moved = items[parent]!;
      items[slot] = moved;
      times[slot] = parentTime;
      moved.slot = slot;
      slot = parent;
    }
    items[slot] = item;
    times[slot] = time;
    item.slot = slot;
  }

  #down(slot: number): void {
    const items = this.#items;
    const times = this.#times;
    const size = items.length;
    const item = items[slot]!;
    const time = times[slot]!;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= size) break;
      if (child + 1 < size && times[child + 1]! < times[child]!) child++;
      const childTime = times[child]!;
      if (childTime >= time) break;
      const moved = items[child]!;
      items[slot] = moved;
      times[slot] = childTime;
      moved.slot = slot;
      slot = child;
    }
    items[slot] = item;
    times[slot] = time;
    item.slot = slot;
  }
}
