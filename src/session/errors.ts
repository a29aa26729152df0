/**
 * Typed errors of the session layer. Every message starts with `[teller] [part]`; none carries a raw
 * session id. Adapters map them to HTTP statuses with {@link statusForError}.
 */

export { tellerMessage } from '../util.js';

/** Base class of every error Teller throws on purpose. */
export class TellerError extends Error {
  /** The HTTP status an adapter answers with when this error escapes a handler. */
  readonly status: number;
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
  }
}

/** The store failed or did not answer within `storeTimeout`: answered 503, never an anonymous session. */
export class SessionStoreError extends TellerError {
  /**
   * The Set-Cookie line the error answer still carries: the new id of a login, regenerate or renewal whose new
   * record was written before the store failed while the old id was being retired (a failed call may have
   * landed, so the old id may be gone): the browser follows its data, logged in, rather than keep an id that
   * may lead nowhere. Adapters send it with the 503 ({@link headersForError}).
   */
  readonly setCookie: string | undefined;
  constructor(message: string, options?: { cause?: unknown; setCookie?: string }) {
    super(message, 503, options);
    this.setCookie = options?.setCookie;
  }
}

/** The store did not answer within `storeTimeout`: a {@link SessionStoreError} (503) of its own kind. */
export class SessionStoreTimeoutError extends SessionStoreError {}

/** A key this request read and then wrote was changed by another writer meanwhile: nothing was written; 409. */
export class SessionConflictError extends TellerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 409, options);
  }
}

/** The per-session lock of this process could not be had in time: 503. */
export class SessionLockTimeoutError extends TellerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 503, options);
  }
}

/** The session's serialized data exceeds `maxDataBytes` (or a sealed cookie would exceed 4096 bytes): 500. */
export class SessionTooLargeError extends TellerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 500, options);
  }
}

/** The session was destroyed (logout, revoke) by another request while this one wrote to it: 409. */
export class SessionDestroyedError extends TellerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 409, options);
  }
}

/**
 * A client sent too many unknown session ids within the brute-force window (`bruteForce: { policy: '429' }`):
 * 429, with `Retry-After` the seconds until its burst ends.
 */
export class SessionRateLimitError extends TellerError {
  /** Seconds the client should wait (the Retry-After header). */
  readonly retryAfter: number;
  constructor(message: string, retryAfter: number, options?: { cause?: unknown }) {
    super(message, 429, options);
    this.retryAfter = retryAfter;
  }
}

/**
 * The headers an error answer adds: Retry-After for a {@link SessionRateLimitError}; the new id's Set-Cookie of
 * a {@link SessionStoreError} that carries one.
 */
export function headersForError(error: unknown): Record<string, string> | undefined {
  if (error instanceof SessionRateLimitError) return { 'Retry-After': String(error.retryAfter) };
  if (error instanceof SessionStoreError && error.setCookie !== undefined)
    return { 'Set-Cookie': error.setCookie };
  return undefined;
}

/** The HTTP status for an error thrown by a handler or by the session layer (500 when unknown). */
export function statusForError(error: unknown): number {
  return error instanceof TellerError ? error.status : 500;
}
