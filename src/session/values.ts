/**
 * What a session value may be. Stored data stays plain JSON with the default serializer (the CLI, the
 * inspector and the express-session bridge read it), so `set`, `update` and `flash` refuse what JSON
 * cannot carry unchanged: a `Date`, `Map`, `Set`, class instance, function, `bigint`, `symbol`, a
 * non-finite number, `undefined` inside an array (it comes back as null) and cycles. `undefined` as an
 * object's property is allowed (JSON leaves it out, as an optional property reads). A serializer of your
 * own may carry more: its values are not checked.
 */
import { tellerMessage } from './errors.js';

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
