/**
 * `teller`: server-side sessions. `createSessionManager`, the `Session` a request works with, the store
 * contract every `teller/stores/*` module implements, and the typed errors adapters map to statuses.
 * The cookie codec is `teller/cookie`, the jar `teller/jar`.
 * @module
 */
export * from './session/index.js';
