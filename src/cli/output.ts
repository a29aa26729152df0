/**
 * What every `teller` command shares: its errors and their exit codes, JSON output, and the progress line.
 *
 * Exit codes: 0 done, 1 an operational failure (a store unreachable, a session not found, a cookie line a user
 * agent rejects, a fetch that failed), 2 a usage error (bad arguments; commander's own errors too). Errors go to
 * stderr as one line, data to stdout.
 */
import { InvalidArgumentError } from 'commander';
import { SessionStoreError } from '../session/errors.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the command reports as one line on stderr, with its exit code (1 unless a usage error). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** A usage error (exit code 2): the arguments are wrong, nothing was done. */
export const usageError = (message: string) => new CliError(message, EXIT_USAGE);

/** A bad option value, thrown from an option's parser: commander reports it with the option's name (exit 2). */
export const invalid = (message: string) => new InvalidArgumentError(message);

/** The one line an error is reported as (a store's error with its cause's reason: never a stack). */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let text = error.message.split('\n')[0] ?? '';
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof SessionStoreError && cause instanceof Error) {
    const reason = cause.message || (cause as { code?: string }).code;
    if (reason) text += `: ${reason.split('\n')[0]}`;
  }
  return text;
}

/** Writes `value` as one line of JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** An ISO date for an epoch-ms time, or `-` when it is none. */
export function isoOf(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) || ms <= 0 ? '-' : new Date(ms).toISOString();
}

/** A positive integer option (`--limit 20`); a usage error otherwise. */
export function positiveInteger(name: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
      throw invalid(`${name} must be a whole number >= 1`);
    return n;
  };
}

/**
 * Shows that a long task is running, on stderr: on a terminal (a TTY), from half a second on, a line redrawn in
 * place (a spinner, what `status()` says, the elapsed time); otherwise a plain line every `every` ms once the task
 * has run that long. `stop()` clears the line.
 */
export function progress(label: string, status: () => string, every = 5_000): { stop(): void } {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const tty = process.stderr.isTTY === true;
  const frames = '|/-\\';
  let frame = 0;
  const timer = setInterval(
    () => {
      if (tty) {
        // A task done within half a second draws nothing.
        if (Date.now() - started < 500) return;
        process.stderr.write(
          `\r\x1b[2K${frames[frame++ % frames.length]} ${label} ${status()} (${elapsed()})`,
        );
      } else {
        process.stderr.write(`${label} ${status()} (${elapsed()})\n`);
      }
    },
    tty ? 100 : every,
  );
  return {
    stop() {
      clearInterval(timer);
      if (tty) process.stderr.write('\r\x1b[2K');
    },
  };
}
