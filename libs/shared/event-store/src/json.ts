import { EventStoreValidationError } from './event-store.errors';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

/** Nesting beyond this is refused: it bounds the recursion below and keeps events inspectable. */
export const MAX_JSON_DEPTH = 32;

/**
 * Serialises plain JSON data with object keys sorted, so the same value always gives the same
 * bytes whatever store round-tripped it (PostgreSQL jsonb reorders keys). Refuses anything that is
 * not plain JSON, with a path to the offending value:
 * - numbers that are not finite or not exactly representable as safe integers when integral
 *   (money travels as decimal strings, never as numbers);
 * - undefined, functions, symbols, bigint, class instances (Date, Map, Buffer...);
 * - strings with U+0000, which PostgreSQL text cannot store;
 * - nesting deeper than MAX_JSON_DEPTH.
 */
export function canonicalJson(value: unknown, what: string | (() => string) = 'data'): string {
  // Hot path (every event of every append): no path strings are built. Only when the value is
  // refused is it walked again with paths, to name the offending value in the error.
  const fast = serialiseFast(value, 0);
  if (fast !== undefined) return fast;
  const path = typeof what === 'string' ? what : what();
  explainRefusal(value, path, 0);
  return fail(path, 'not plain JSON'); // unreachable while the two walks check the same things
}

/**
 * Text JSON.stringify would quote as it is: no quote, backslash, control character or surrogate
 * (a lone surrogate is escaped). Most strings in events are ids, codes and amounts.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const PLAIN_TEXT = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/** Object keys as JSON text: event payloads repeat a few hundred names. Bounded, so odd keys cannot grow it. */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 4_096;

/** canonicalJson's output, or undefined when the value is not plain JSON (the slow path says why). */
function serialiseFast(value: unknown, depth: number): string | undefined {
  if (depth > MAX_JSON_DEPTH) return undefined;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      if (PLAIN_TEXT.test(value)) return `"${value}"`;
      return value.includes('\u0000') ? undefined : JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return undefined;
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let index = 0; index < value.length; index += 1) {
          const item = serialiseFast(value[index], depth + 1);
          if (item === undefined) return undefined;
          out += index === 0 ? item : `,${item}`;
        }
        return `${out}]`;
      }
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) return undefined;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (let index = 0; index < keys.length; index += 1) {
        const key = keys[index] as string;
        const item = serialiseFast(record[key], depth + 1);
        if (item === undefined) return undefined;
        let quoted = quotedKeys.get(key);
        if (quoted === undefined) {
          if (key.includes('\u0000')) return undefined;
          quoted = JSON.stringify(key);
          if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
        }
        out += `${index === 0 ? '' : ','}${quoted}:${item}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/**
 * Finds why serialiseFast refused a value and throws that, with the path to the offending value
 * (built only here, on the way to an error). Checks exactly what serialiseFast checks.
 */
function explainRefusal(value: unknown, path: string, depth: number): void {
  if (depth > MAX_JSON_DEPTH) fail(path, `nesting deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null) return;
  switch (typeof value) {
    case 'string':
      if (value.includes('\u0000')) fail(path, 'string contains U+0000');
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(path, `number ${value} is not finite`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        fail(path, `integer ${value} is beyond 2^53 and would lose precision; send it as a string`);
      }
      return;
    case 'object': {
      if (Array.isArray(value)) {
        value.forEach((item, index) => explainRefusal(item, `${path}[${index}]`, depth + 1));
        return;
      }
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) {
        fail(path, `${(value as object).constructor?.name ?? 'object'} instance is not plain JSON`);
      }
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record).sort()) {
        if (key.includes('\u0000')) fail(path, 'object key contains U+0000');
        explainRefusal(record[key], `${path}.${key}`, depth + 1);
      }
      return;
    }
    default:
      fail(path, `${typeof value} is not a JSON value`);
  }
}

function fail(path: string, reason: string): never {
  throw new EventStoreValidationError('EVENT_DATA_NOT_JSON', `${path}: ${reason}`, { path, reason });
}
