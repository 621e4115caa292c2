import { probeWithin } from './readiness-probe';

describe('probeWithin', () => {
  it('is up when the probe answers in time', async () => {
    await expect(probeWithin(1_000, () => Promise.resolve(1))).resolves.toEqual({ status: 'up' });
  });

  it('is down with the reason when the probe fails', async () => {
    await expect(probeWithin(1_000, () => Promise.reject(new Error('connection refused')))).resolves.toEqual({ status: 'down', reason: 'connection refused' });
  });

  it('is down when the probe does not answer within the bound', async () => {
    await expect(probeWithin(20, () => new Promise(() => undefined))).resolves.toEqual({ status: 'down', reason: 'no answer within 20 ms' });
  });
});
