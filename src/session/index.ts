/**
 * The session core: `createSessionManager`, `Session`, the store contract and the typed errors.
 * @module
 */
export type { BruteForceOptions } from './brute-force.js';
export type { SessionCookieOptions } from './cookie-policy.js';
export { isLoopbackHost } from './cookie-policy.js';
export {
  SessionConflictError,
  SessionDestroyedError,
  SessionLockTimeoutError,
  SessionRateLimitError,
  SessionStoreError,
  SessionStoreTimeoutError,
  SessionTooLargeError,
  statusForError,
  TellerError,
} from './errors.js';
export type { RandomSource } from './ids.js';
export { generateId, storeKeyOf } from './ids.js';
export type {
  CommitOptions,
  CommitResult,
  LoadContext,
  RequestOptions,
  RevokeOptions,
  SessionInfo,
  SessionManager,
} from './manager.js';
export { createSessionManager } from './manager.js';
export type {
  ClearSiteDataOptions,
  RetiredBy,
  SessionEvent,
  SessionEventType,
  SessionLogger,
  SessionManagerOptions,
} from './options.js';
export type { SessionSerializer } from './serializer.js';
export { jsonSerializer } from './serializer.js';
export type { AnySession, LoginOptions, ReadonlyData, SessionData } from './session.js';
export { Session } from './session.js';
export type {
  PurgeOptions,
  RetireByUserOptions,
  RetiredInfo,
  ScanPage,
  SessionMeta,
  SessionRecord,
  SessionStore,
} from './store.js';
export {
  assertRetireArguments,
  assertScanArguments,
  assertSetArguments,
  RECORD_FORMAT,
  retiredRecordOf,
  retiredTtlOf,
} from './store.js';
export type { DeepReadonly, SessionFormat } from './values.js';
