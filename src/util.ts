/**
 * Helpers every part of Teller shares (internal, not a package export): the one shape of its messages,
 * and the one reading of a `now` option.
 */

/** `[teller] [part] text`: the one shape of every message Teller writes (`part`: cookie, jar, session, sqlite-store, ...). */
export function tellerMessage(part: string, text: string): string {
  return `[teller] [${part}] ${text}`;
}

/**
 * A `now` option as epoch ms: a `Date` or a finite number, `clock()` when absent; otherwise a TypeError
 * naming the option (`name`) of `part`.
 */
export function epochMs(
  now: Date | number | undefined,
  clock: () => number,
  part: string,
  name: string,
): number {
  if (now === undefined) return clock();
  const ms = typeof now === 'number' ? now : now instanceof Date ? now.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new TypeError(tellerMessage(part, `${name} must be a Date or epoch milliseconds`));
  }
  return ms;
}
