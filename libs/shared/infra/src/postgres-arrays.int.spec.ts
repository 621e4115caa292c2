import fc from 'fast-check';
import { Pool } from 'pg';
import { pgArrayLiteral } from './postgres-arrays';

/** pgArrayLiteral must mean to PostgreSQL exactly what the values are, whatever characters they hold. */
describe('pgArrayLiteral against a real PostgreSQL', () => {
  let pool: Pool;

  beforeAll(() => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 2 });
  });
  afterAll(async () => {
    await pool.end();
  });

  async function roundTrip(values: ReadonlyArray<string | null>): Promise<Array<string | null>> {
    const { rows } = await pool.query<{ a: Array<string | null> }>('SELECT $1::text[] AS a', [pgArrayLiteral(values)]);
    return rows[0]!.a;
  }

  it('reads back every element unchanged, the awkward ones included', async () => {
    const awkward = ['', ' ', 'NULL', 'null', '"', '\\', '\\"', '{', '}', ',', 'a,b', '{"x":1}', ' lead', 'trail ', '\t\n', 'ünïcödé ✓', '"quoted"', 'back\\slash'];
    await expect(roundTrip(awkward)).resolves.toEqual(awkward);
    await expect(roundTrip([null, 'x', null])).resolves.toEqual([null, 'x', null]);
    await expect(roundTrip([])).resolves.toEqual([]);
  });

  it('round-trips arbitrary strings (no U+0000, which PostgreSQL text cannot hold)', async () => {
    // Mostly the characters array syntax gives meaning to, among arbitrary others.
    const unit = fc.oneof(fc.constantFrom('"', '\\', ',', '{', '}', ' ', 'N', 'U', 'L'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    const element = fc.option(fc.string({ unit, maxLength: 12 }).filter((s) => !s.includes('\u0000')), { nil: null });
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 8 }), async (values) => {
        expect(await roundTrip(values)).toEqual(values);
      }),
      { numRuns: 150 },
    );
  });

  it('casts to the typed arrays the appends and the projection use', async () => {
    const { rows } = await pool.query<{ u: string[]; b: string[]; n: string[] }>(
      'SELECT $1::uuid[]::text[] AS u, $2::bigint[]::text[] AS b, $3::numeric[]::text[] AS n',
      [pgArrayLiteral(['0b6f0d2c-6a43-4c1e-9a55-3f1c8f9e2a10']), pgArrayLiteral(['-9223372036854775808', '42']), pgArrayLiteral(['123456789012345678901234567890', '-1'])],
    );
    expect(rows[0]).toEqual({ u: ['0b6f0d2c-6a43-4c1e-9a55-3f1c8f9e2a10'], b: ['-9223372036854775808', '42'], n: ['123456789012345678901234567890', '-1'] });
  });
});
