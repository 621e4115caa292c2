/**
 * Parsers for benchmark settings read from the environment. Each bench reads `process.env` in
 * one place (its config module) through these, and a bad value stops the run before any server
 * starts, naming the variable and the accepted range.
 */

export class BenchConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchConfigError';
  }
}

const DECIMAL_INTEGER = /^(0|[1-9][0-9]{0,14})$/;

export function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  return parseBoundedInteger(name, raw, min, max);
}

/** A comma-separated list of distinct integers, e.g. BENCH_CONCURRENCY="1,4,16". */
export function readIntegerList(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: readonly number[],
  min: number,
  max: number,
): readonly number[] {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const values = raw.split(',').map((part) => parseBoundedInteger(name, part.trim(), min, max));
  if (new Set(values).size !== values.length) throw new BenchConfigError(`${name}: values must be distinct; got '${raw}'`);
  return values;
}

/** A comma-separated subset of `allowed`, kept in the order of `allowed`. */
export function readChoiceList<Choice extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly Choice[],
): readonly Choice[] {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return allowed;
  const chosen = raw.split(',').map((part) => part.trim());
  for (const choice of chosen) {
    if (!(allowed as readonly string[]).includes(choice)) {
      throw new BenchConfigError(`${name}: '${choice.slice(0, 40)}' is not one of ${allowed.join(', ')}`);
    }
  }
  return allowed.filter((choice) => chosen.includes(choice));
}

function parseBoundedInteger(name: string, text: string, min: number, max: number): number {
  if (!DECIMAL_INTEGER.test(text)) {
    throw new BenchConfigError(`${name}: '${text.slice(0, 40)}' is not a whole number (${min} to ${max})`);
  }
  const value = Number(text);
  if (value < min || value > max) throw new BenchConfigError(`${name}: ${value} is outside ${min} to ${max}`);
  return value;
}
