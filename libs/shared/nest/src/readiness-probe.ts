/** One dependency's state in a readiness answer. */
export type ReadinessCheck = { status: 'up' } | { status: 'down'; reason: string };

/** Runs a probe (e.g. a cheap query) and says up, or down with why, within a bound. */
export async function probeWithin(timeoutMs: number, probe: () => Promise<unknown>): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessCheck>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'down', reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const answered = probe()
    .then((): ReadinessCheck => ({ status: 'up' }))
    .catch((error: unknown): ReadinessCheck => ({ status: 'down', reason: (error as Error).message }));
  try {
    return await Promise.race([answered, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
