/**
 * Resolves after `ms`, or at once when any of `signals` aborts (already aborted: at once). For
 * pacing, retry back-off and polling intervals, never as a stand-in for synchronisation.
 * `unref`: the timer alone does not keep the process alive.
 */
export function abortableDelay(ms: number, signals: AbortSignal | readonly AbortSignal[] | undefined, options: { unref?: boolean } = {}): Promise<void> {
  const list: readonly AbortSignal[] = signals === undefined ? [] : Array.isArray(signals) ? signals : [signals as AbortSignal];
  if (list.some((signal) => signal.aborted)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const signal of list) signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (options.unref) timer.unref();
    for (const signal of list) signal.addEventListener('abort', done, { once: true });
  });
}
