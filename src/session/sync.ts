/**
 * The manager's synchronous entry points (private: not a package export). `load` and `commit` always return
 * a promise; these return the Session or the CommitResult itself when the store answered synchronously
 * (`StoreCalls.sync`: the memory store) and nothing had to be waited for, else the same promise `load` or
 * `commit` would, and throw what those would reject with. An adapter that finds them on its manager (the
 * node adapter) saves the promise turns of a request that needs none; any other manager, or a wrapper of
 * one, is used through `load` and `commit` as before.
 */
import type { CommitOptions, CommitResult, LoadContext, RequestOptions } from './manager.js';

/** `manager[LOAD_NOW](cookieHeader, context, options)`: `load` without a promise when none is needed. */
export const LOAD_NOW: unique symbol = Symbol('teller.loadNow');
/** `manager[COMMIT_NOW](session, options)`: `commit` without a promise when none is needed. */
export const COMMIT_NOW: unique symbol = Symbol('teller.commitNow');

/** A manager with the synchronous entry points. */
export interface ManagerNow<S> {
  [LOAD_NOW](
    cookieHeader: string | undefined | null,
    context?: LoadContext,
    options?: RequestOptions,
  ): S | Promise<S>;
  [COMMIT_NOW](session: S, options?: CommitOptions): CommitResult | Promise<CommitResult>;
}
