/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) for a `$n::text[]` (or `::uuid[]`, `::bigint[]`,
 * `::numeric[]`, `::timestamptz[]`) parameter, built in one pass.
 *
 * The `pg` driver turns a JavaScript array parameter into the same literal, but escapes every
 * element with two regular-expression replacements; the event store's appends and the wallet
 * projection send tens of such arrays per batch, thousands of elements each, and that escaping
 * showed up as several per cent of the ledger's CPU. Here an element is only rewritten when it
 * holds a quote or a backslash. Every element is quoted, so commas, braces, spaces and the word
 * NULL inside a value are data; `null` becomes an SQL NULL element.
 *
 * PostgreSQL text cannot hold U+0000; callers validate their values before they get here.
 */
export function pgArrayLiteral(values: ReadonlyArray<string | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i];
    if (i > 0) out += ',';
    if (value === null || value === undefined) {
      out += 'NULL';
    } else if (NEEDS_ESCAPE.test(value)) {
      out += `"${value.replace(ESCAPED, '\\$&')}"`;
    } else {
      out += `"${value}"`;
    }
  }
  return `${out}}`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;
