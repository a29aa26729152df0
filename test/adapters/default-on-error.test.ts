/**
 * The adapters' default onError (issue 16): one line for an expected outcome (a 409 conflict, a store
 * that is down), the whole error with its stack for anything else (a handler's bug).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withSession } from '../../src/adapters/fetch.js';
import { createSessionManager } from '../../src/index.js';
import { SessionConflictError } from '../../src/session/errors.js';
import { createMemoryStore } from '../../src/stores/memory.js';

describe('the default onError', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const handler = withSession(manager, async (request) => {
    if (new URL(request.url).pathname === '/conflict') {
      throw new SessionConflictError(
        '[teller] [session] "cart" was read and written by this request and changed',
      );
    }
    throw new Error('a bug in the handler');
  });

  it('a 409 conflict is one line: its name, status and message, no stack', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await handler(new Request('http://localhost/conflict'));
    expect(response.status).toBe(409);
    expect(log).toHaveBeenCalledTimes(1);
    const line = log.mock.calls[0]![0];
    expect(typeof line).toBe('string');
    expect(line).toMatch(/^SessionConflictError 409: \[teller\] \[session\] "cart" was read/);
    expect(line).not.toContain('\n');
  });

  it("a handler's bug is logged whole, stack included", async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await handler(new Request('http://localhost/bug'));
    expect(response.status).toBe(500);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0]![0]).toBeInstanceOf(Error);
  });
});
