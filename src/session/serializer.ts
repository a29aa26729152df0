/**
 * Turning session data into the record's `data` string and back, without prototype pollution
 * (ASVS 5.0 15.3.6): a `__proto__` key in stored JSON is dropped at every depth, and the session's
 * values live in a `Map`, never in an object a later merge could walk into.
 */
import { tellerMessage } from './errors.js';

/** Serializes the session's data (one object of key -> value) to the record's `data` string and back. */
export interface SessionSerializer {
  stringify(data: Record<string, unknown>): string;
  parse(text: string): Record<string, unknown>;
}

function dropProto(this: unknown, key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * A text that may hold a `__proto__` key: written out, or spelled with a `\u` escape (`"\u005f_proto__"`
 * is the same key), so only texts without either skip the reviver.
 */
const MAY_HOLD_PROTO = /__proto__|\\u/;

/** JSON, with `__proto__` keys dropped on parse (only texts that may contain one pay for the reviver). */
export const jsonSerializer: SessionSerializer = {
  stringify: (data) => JSON.stringify(data),
  parse: (text) => (MAY_HOLD_PROTO.test(text) ? JSON.parse(text, dropProto) : JSON.parse(text)),
};

/** The values of a parsed data object as a Map; `__proto__` and non-object input are refused. */
export function toValueMap(parsed: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError(tellerMessage('session', 'stored session data is not an object'));
  }
  for (const key of Object.keys(parsed)) {
    if (key === '__proto__') continue;
    map.set(key, (parsed as Record<string, unknown>)[key]);
  }
  return map;
}

/**
 * A null-prototype object of a value map, for a serializer of the user's (a `__proto__` key stays an own key).
 * For the default JSON serializer (`plain`), an ordinary object with the same own keys: a null-prototype object
 * is a dictionary from the start, which JSON.stringify walks on its slow path (callgrind: some 700 instructions
 * more per write of a one-key session). A `__proto__` key (none reaches here: the session refuses it, parsing
 * drops it) would still be an own data property, never the prototype.
 */
export function fromValueMap(values: ReadonlyMap<string, unknown>, plain = false): Record<string, unknown> {
  const out: Record<string, unknown> = plain ? {} : Object.create(null);
  for (const [key, value] of values) {
    if (value === undefined) continue;
    if (plain && key === '__proto__')
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}
