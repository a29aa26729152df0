/**
 * What a session value may be, in the types and at run time. Stored data stays plain JSON with the
 * default serializer (the CLI, the inspector and the express-session bridge read it), so `set`, `update`
 * and `flash` refuse what JSON cannot carry unchanged: a `Date`, `Map`, `Set`, class instance, function,
 * `bigint`, `symbol`, a non-finite number, `undefined` inside an array (it comes back as null) and cycles.
 * `undefined` as an object's property is allowed (JSON leaves it out, as an optional property reads).
 * A serializer of your own may carry more: declare it with `createSessionManager<Data, 'custom'>`.
 *
 * And a value read from the session is deeply read-only in the types (`get` returns `DeepReadonly`), at
 * no run-time cost: a value changed in place is never saved, so `.push` on it is a compile error.
 */
import { tellerMessage } from './errors.js';
import { INTERNAL_PREFIX } from './state.js';

/**
 * What the manager's serializer stores: `'json'` (the default serializer: JSON values only, checked in
 * the types and at `set`/`update`/`flash`) or `'custom'` (a serializer of your own: any value of `Data`).
 */
export type SessionFormat = 'json' | 'custom';

type Primitive = string | number | boolean | null;
type AnyFunction = (...args: never[]) => unknown;
/** What JSON cannot carry, whole (checked before the structural walk, for a clearer compile error). */
type NotJson =
  | undefined
  | bigint
  | symbol
  | AnyFunction
  | Date
  | RegExp
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>
  | WeakMap<object, unknown>
  | WeakSet<object>
  | ArrayBufferLike
  | ArrayBufferView;

/** What a compile error shows where a value JSON cannot carry was given (with the default serializer). */
export type NotJsonError =
  'JSON cannot carry this value (a Date, Map, Set, class instance, function, bigint, undefined in an array): store plain data, or declare a serializer of your own';

/**
 * `T` where JSON carries it unchanged, {@link NotJsonError} where it does not (a `Date`, `Map`, `Set`,
 * function, `bigint`, an object with methods such as a class instance, `undefined` in an array): a value
 * of type `T & JsonSafe<T>` is JSON. `unknown` and `any` pass (the run-time check covers them). Interfaces
 * work: the check is structural, no index signature needed.
 */
export type JsonSafe<T> = unknown extends T
  ? T
  : T extends Primitive
    ? T
    : T extends NotJson
      ? NotJsonError
      : T extends readonly unknown[]
        ? { [I in keyof T]: JsonSafe<T[I]> }
        : T extends object
          ? { [K in keyof T]: JsonMember<T[K]> }
          : NotJsonError;

/** An object's property: `undefined` allowed (JSON leaves the property out). */
type JsonMember<T> = T extends undefined ? T : JsonSafe<T>;

/**
 * `T`, read-only all the way down: what `get` returns. A value changed in place is not saved; give `set`
 * a new value, or use `update`.
 */
export type DeepReadonly<T> = unknown extends T
  ? T
  : T extends Primitive | undefined | bigint | symbol | AnyFunction | Date | RegExp
    ? T
    : T extends ReadonlyMap<infer K, infer V>
      ? ReadonlyMap<DeepReadonly<K>, DeepReadonly<V>>
      : T extends ReadonlySet<infer U>
        ? ReadonlySet<DeepReadonly<U>>
        : { readonly [K in keyof T]: DeepReadonly<T[K]> };

/**
 * The value `set` accepts for a key declared as `Declared`: with `'json'`, only JSON (for an undeclared key,
 * typed `unknown`, the value given, `V`, is checked).
 */
export type StorableValue<Declared, V, Format extends SessionFormat> = unknown extends Declared
  ? Checked<V, Format>
  : Checked<Declared, Format>;

type Checked<T, Format extends SessionFormat> = Format extends 'custom' ? T : T & JsonSafe<T>;

/** What `update`'s function may return besides a new value: the current one, unchanged (read-only). */
export type CurrentValue<Declared> = unknown extends Declared ? never : DeepReadonly<Declared>;

interface Problem {
  what: string;
  /** The path to the offending value, innermost first. */
  path: Array<string | number>;
}

/**
 * Throws a TypeError naming the call, the key and what JSON cannot carry in `value` (and where). Walks
 * the value once, as deep as it is (about the cost of the JSON.stringify that commit does anyway); a cycle
 * is reported, not followed.
 */
export function assertJsonValue(call: string, key: string, value: unknown): void {
  const problem = walk(value, []);
  if (problem === undefined) return;
  const at = problem.path.length === 0 ? '' : ` (at ${pathText(key, problem.path)})`;
  throw new TypeError(
    tellerMessage(
      'session',
      `session.${call}(${JSON.stringify(key)}): JSON cannot carry ${problem.what}${at}. Store what JSON carries (an ISO string or epoch ms for a date, an array of entries for a Map or Set), or declare a serializer of your own`,
    ),
  );
}

/** How deep a session value may nest (JSON.parse of a hostile body can nest far deeper). */
const MAX_DEPTH = 2048;

function walk(value: unknown, parents: object[]): Problem | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { what: `the number ${value}`, path: [] };
    case 'undefined':
      return { what: 'undefined in an array (it would come back as null)', path: [] };
    case 'bigint':
    case 'symbol':
    case 'function':
      return { what: `a ${typeof value}`, path: [] };
  }
  if (value === null) return undefined;
  const object = value as object;
  // A bound on depth: a clear error rather than a RangeError from the stack, and the cycle check stays cheap.
  if (parents.length >= MAX_DEPTH)
    return { what: `a value nested more than ${MAX_DEPTH} levels deep`, path: [] };
  if (parents.includes(object)) return { what: 'a circular reference', path: [] };
  if (Array.isArray(object)) {
    parents.push(object);
    for (let i = 0; i < object.length; i++) {
      const problem = walk(object[i], parents);
      if (problem !== undefined) {
        problem.path.push(i);
        return problem;
      }
    }
    parents.pop();
    return undefined;
  }
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    return { what: `a ${typeof name === 'string' && name !== '' ? name : 'non-plain'} object`, path: [] };
  }
  parents.push(object);
  for (const name of Object.keys(object)) {
    const member = (object as Record<string, unknown>)[name];
    // An undefined property is left out by JSON, as an optional property reads.
    const problem = member === undefined ? undefined : walk(member, parents);
    if (problem !== undefined) {
      problem.path.push(name);
      return problem;
    }
  }
  parents.pop();
  return undefined;
}

/** `cart[2].added` for the key `cart` and the path [added, 2] (innermost first). */
function pathText(key: string, path: ReadonlyArray<string | number>): string {
  let text = key;
  for (let i = path.length - 1; i >= 0; i--) {
    const step = path[i]!;
    text +=
      typeof step === 'number'
        ? `[${step}]`
        : /^[A-Za-z_$][\w$]*$/.test(step)
          ? `.${step}`
          : `[${JSON.stringify(step)}]`;
  }
  return text;
}

/** A key a user may give (not empty, not `__proto__`, not one of Teller's own). */
export function assertUserKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw new TypeError(tellerMessage('session', 'a session key must be a non-empty string'));
  }
  if (key === '__proto__') throw new TypeError(tellerMessage('session', '"__proto__" is not a session key'));
  if (key.startsWith(INTERNAL_PREFIX)) {
    throw new TypeError(tellerMessage('session', `keys starting with "${INTERNAL_PREFIX}" are reserved`));
  }
}

/**
 * express-session's `destroy(cb)`, `regenerate(cb)` and `reload(cb)` forms: refused at once (the callback
 * would never be called, and the request would hang).
 */
export function refuseCallback(call: 'destroy' | 'regenerate' | 'reload', callback: unknown): void {
  if (typeof callback !== 'function') return;
  const effect =
    call === 'reload'
      ? 'it returns a promise: await session.reload()'
      : `its effect happens at commit, when the response is sent: call session.${call}(), then answer`;
  throw new TypeError(
    tellerMessage(
      'session',
      `${call}() takes no callback (${effect}). For code written for express-session's callbacks, use the drop-in teller/adapters/express-session`,
    ),
  );
}
