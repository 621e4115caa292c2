import fc from 'fast-check';
import { EventStoreValidationError } from './event-store.errors';
import { canonicalJson } from './json';

/** Plain JSON values as PostgreSQL jsonb can store them (no U+0000, safe integers). */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
    fc.double({ min: -1e15, max: 1e15, noNaN: true }).filter((n) => !Object.is(n, -0)),
    fc.string().filter((s) => !s.includes('\u0000')),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string().filter((s) => !s.includes('\u0000') && s !== '__proto__'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

function shuffleKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shuffleKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, shuffleKeys(v)]));
  }
  return value;
}

describe('canonicalJson', () => {
  it('is stable under key order and survives a JSON round trip unchanged', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const canonical = canonicalJson(value);
        expect(canonicalJson(shuffleKeys(value))).toBe(canonical);
        expect(canonicalJson(JSON.parse(canonical))).toBe(canonical);
      }),
      { numRuns: 300 },
    );
  });

  it('equals an independent reference: JSON.stringify per value, object members in sorted key order', () => {
    // Built as text: an object would put integer-like keys ("0") first whatever order they came in.
    const reference = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      if (value && typeof value === 'object') {
        const record = value as Record<string, unknown>;
        return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(',')}}`;
      }
      return JSON.stringify(value);
    };
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
  });

  it('quotes any text exactly as JSON.stringify does (quotes, backslashes, control characters, lone and paired surrogates)', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.constantFrom('"', '\\', '\u001f', '\ud800', 'a\udc00b', '😀', '\u2028', '\u007f'));
    fc.assert(
      fc.property(text, text, (value, key) => {
        fc.pre(!value.includes('\u0000') && !key.includes('\u0000'));
        expect(canonicalJson(value)).toBe(JSON.stringify(value));
        expect(canonicalJson({ [key]: value })).toBe(`{${JSON.stringify(key)}:${JSON.stringify(value)}}`);
      }),
      { numRuns: 1_000 },
    );
  });

  it('accepts nesting of exactly 32 levels and refuses 33, wherever the deepest value sits', () => {
    const nest = (levels: number, leaf: unknown): unknown => (levels === 0 ? leaf : { a: nest(levels - 1, leaf) });
    expect(() => canonicalJson(nest(32, 1))).not.toThrow();
    expect(() => canonicalJson(nest(33, 1))).toThrow('nesting deeper than 32');
    expect(() => canonicalJson([nest(31, [])])).not.toThrow(); // the innermost [] at level 32
    expect(() => canonicalJson([nest(31, [1])])).toThrow('nesting deeper than 32'); // its 1 at level 33
    expect(() => canonicalJson([nest(32, [])])).toThrow('nesting deeper than 32');
  });

  it('names the path of a refused value however deep it sits', () => {
    expect(() => canonicalJson({ ok: [1, 2], bad: [{ fine: 'x' }, { n: Number.NaN }] }, 'data')).toThrow('data.bad[1].n: number NaN is not finite');
  });

  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it.each([
    ['NaN', { x: Number.NaN }, 'data.x: number NaN is not finite'],
    ['Infinity', { x: Infinity }, 'not finite'],
    ['an unsafe integer', { x: 2 ** 53 }, 'beyond 2^53'],
    ['a bigint', { x: 1n }, 'bigint is not a JSON value'],
    ['undefined', { x: undefined }, 'undefined is not a JSON value'],
    ['a Date', { x: new Date(0) }, 'Date instance is not plain JSON'],
    ['a Map', { x: new Map() }, 'Map instance'],
    ['U+0000', { x: 'a\u0000' }, 'U+0000'],
    ['a deep nest', JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`), 'nesting deeper than 32'],
  ])('refuses %s with a path and a reason', (_label, value, reason) => {
    let caught: unknown;
    try {
      canonicalJson(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EventStoreValidationError);
    expect((caught as EventStoreValidationError).code).toBe('EVENT_DATA_NOT_JSON');
    expect((caught as Error).message).toContain(reason);
  });
});
