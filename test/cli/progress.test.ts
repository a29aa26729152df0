/**
 * The progress line of long tasks (`teller sessions purge`): redrawn in place on a terminal, plain lines
 * otherwise, nothing for a task done at once. Fake timers; stderr's writes are captured.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { progress } from '../../src/cli/output.js';

describe('progress', () => {
  let written: string[];
  const tty = process.stderr.isTTY;
  beforeEach(() => {
    vi.useFakeTimers();
    written = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    process.stderr.isTTY = tty;
  });

  it('on a terminal: one line redrawn in place from half a second on, cleared at the end', () => {
    process.stderr.isTTY = true;
    let n = 0;
    const shown = progress('purging:', () => `${n} removed`);
    vi.advanceTimersByTime(400);
    expect(written).toEqual([]);
    n = 1200;
    vi.advanceTimersByTime(200);
    expect(written.at(-1)).toMatch(/^\r\x1b\[2K[|/\\-] purging: 1200 removed \(0\.\d s\)$/);
    shown.stop();
    expect(written.at(-1)).toBe('\r\x1b[2K');
    const count = written.length;
    vi.advanceTimersByTime(1_000);
    expect(written).toHaveLength(count);
  });

  it('elsewhere: a plain line every interval, nothing to clear', () => {
    process.stderr.isTTY = false;
    const shown = progress('purging:', () => 'busy', 5_000);
    vi.advanceTimersByTime(4_999);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(5_001);
    expect(written).toEqual(['purging: busy (5.0 s)\n', 'purging: busy (10.0 s)\n']);
    shown.stop();
    expect(written).toHaveLength(2);
  });
});
