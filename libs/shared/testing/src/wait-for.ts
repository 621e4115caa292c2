/** How often waitFor re-checks its condition. Short: conditions are cheap in-memory checks. */
export const WAIT_FOR_POLL_INTERVAL_MS = 20;

/**
 * Resolves as soon as `condition` holds; rejects after `timeoutMs` with `what` in the message
 * (and the condition's last error, if it threw). For waiting on a checkpoint or a count the
 * system under test reaches on its own, never as a sleep.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'condition',
): Promise<void> {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new RangeError(`waitFor: timeoutMs must be an integer from 1 to 600000; got ${timeoutMs}`);
  }
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError === undefined ? '' : ` (last check threw: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_FOR_POLL_INTERVAL_MS));
  }
}
