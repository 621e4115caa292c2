/**
 * Reading configuration from the environment, once, at boot. Each reader records a problem
 * instead of throwing, so a misconfigured deployment hears about every bad variable at once.
 */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  string(name: string, fallback?: string): string {
    const value = this.env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    this.problems.push(`${name} is required`);
    return '';
  }

  optionalString(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  /** An integer within [min, max]; the name should carry the unit (…_MS, …_BYTES). */
  integer(name: string, fallback: number, min: number, max: number): number {
    const text = this.env[name];
    if (text === undefined || text === '') return fallback;
    if (!/^-?\d+$/.test(text)) {
      this.problems.push(`${name} must be an integer; got '${text.slice(0, 40)}'`);
      return fallback;
    }
    const value = Number(text);
    if (value < min || value > max) this.problems.push(`${name} must be from ${min} to ${max}; got ${value}`);
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const text = this.env[name];
    if (text === undefined || text === '') return fallback;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')}; got '${text.slice(0, 40)}'`);
    return fallback;
  }

  check(name: string, ok: boolean, problem: string): void {
    if (!ok) this.problems.push(`${name} ${problem}`);
  }

  /** Adds problems found by another loader (e.g. a library's own config), as they are. */
  include(problems: readonly string[]): void {
    this.problems.push(...problems);
  }

  /** Throws one error listing every problem found, or returns the value. */
  done<T>(value: T): T {
    if (this.problems.length > 0) throw new InvalidConfigError(this.problems);
    return value;
  }
}

export class InvalidConfigError extends Error {
  readonly code = 'INVALID_CONFIG' as const;
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidConfigError';
  }
}
