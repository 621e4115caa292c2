import { abortableDelay } from './abortable-delay';

describe('abortableDelay', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves after the delay when nothing aborts', async () => {
    let resolved = false;
    const waiting = abortableDelay(1_000, new AbortController().signal).then(() => (resolved = true));
    await jest.advanceTimersByTimeAsync(999);
    expect(resolved).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await waiting;
    expect(resolved).toBe(true);
  });

  it('resolves as soon as any of its signals aborts, and at once for an aborted one', async () => {
    const [a, b] = [new AbortController(), new AbortController()];
    let resolved = false;
    const waiting = abortableDelay(60_000, [a.signal, b.signal]).then(() => (resolved = true));
    await jest.advanceTimersByTimeAsync(10);
    expect(resolved).toBe(false);
    b.abort();
    await waiting;
    expect(resolved).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    await expect(abortableDelay(60_000, a.signal.aborted ? a.signal : b.signal)).resolves.toBeUndefined();
  });

  it('waits the whole delay without a signal', async () => {
    let resolved = false;
    const waiting = abortableDelay(50, undefined).then(() => (resolved = true));
    await jest.advanceTimersByTimeAsync(49);
    expect(resolved).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await waiting;
    expect(resolved).toBe(true);
  });
});
