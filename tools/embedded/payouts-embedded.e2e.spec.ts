import { waitFor } from '@ledger/testing';
import { randomUUID } from 'node:crypto';
import type { BatchView } from '../../services/payouts/src/application/payouts.application';
import { servicePrincipal, startPayoutsTestPlatform, textStream, userPrincipal, type PayoutsTestPlatform } from './platform-test-kit';

/**
 * Batch payouts end to end in embedded mode: the payouts saga and the ledger's payout command
 * consumer talk over the embedded bus (the event store), in one process, on a real PostgreSQL.
 */

let platform: PayoutsTestPlatform;

beforeAll(async () => {
  platform = await startPayoutsTestPlatform();
});

afterAll(async () => {
  await platform?.close();
});

const payroll = servicePrincipal('payroll');
const app = () => platform.payouts.runtime.application;

async function balanceOf(walletId: string): Promise<{ balance: string; available: string; held: string }> {
  const read = await platform.ledgerCall('GET', `/v1/wallets/${walletId}`);
  expect(read.status).toBe(200);
  return read.body as unknown as { balance: string; available: string; held: string };
}

async function settled(batchId: string, statuses: readonly string[]): Promise<BatchView> {
  let view: BatchView | undefined;
  await waitFor(async () => {
    view = await app().getBatch(payroll, batchId);
    return statuses.includes(view.status);
  }, 60_000, `batch ${batchId} to reach ${statuses.join('/')}`);
  return view as BatchView;
}

describe('a payout batch in embedded mode', () => {
  it('pays each valid row exactly once, fails the rest with reasons, releases the rest of the reservation, then compensates', async () => {
    const source = await platform.openWallet('alice', 'EUR', '1000.00');
    const r1 = await platform.openWallet('bob', 'EUR');
    const r2 = await platform.openWallet('carol', 'EUR');
    const frozenLater = await platform.openWallet('dave', 'EUR');
    const closed = await platform.openWallet('erin', 'EUR');
    expect((await platform.ledgerCall('POST', `/v1/wallets/${closed}/close`, {})).status).toBe(200);
    const yen = await platform.openWallet('frank', 'JPY');
    // The directory is the wallet read model: wait until it shows the last wallet's state.
    await waitFor(async () => (await platform.ledgerCall('GET', `/v1/queries/wallets/${closed}/balance`)).body['status'] === 'closed', 10_000, 'read model');

    const csv = [
      'recipient_id,amount,reference',
      `${r1},10.00,salary`,
      `${r2},20.50,"bonus, Q4"`,
      `${closed},5.00,`,
      `${yen},5,`,
      `${r1},10.00,salary`,
      'not-a-wallet,1.00,',
      `${r1},1.001,`,
      `${frozenLater},7.00,`,
      `${source},1.00,`,
      `${r2},1e3,`,
    ].join('\r\n');
    const created = await app().createBatch(payroll, { sourceWalletId: source, currency: 'EUR', description: 'November payroll', idempotencyKey: `batch-${randomUUID()}` });
    const batchId = created.batch.batchId;
    expect(created.batch.status).toBe('PENDING');

    const summary = await app().uploadRows(payroll, batchId, textStream(csv, 7));
    expect(summary).toMatchObject({ rows: 10, validRows: 3, invalidRows: 7, validTotal: '37.50', replayed: false });
    expect(summary.invalidSample.map((row) => [row.row, row.reason])).toEqual([
      [3, 'RECIPIENT_CLOSED'],
      [4, 'CURRENCY_MISMATCH'],
      [5, 'DUPLICATE_ROW'],
      [6, 'RECIPIENT_ID_INVALID'],
      [7, 'AMOUNT_PRECISION'],
      [9, 'SELF_PAYMENT'],
      [10, 'AMOUNT_INVALID'],
    ]);

    // A recipient frozen between upload and execution: the ledger refuses that row at payment time.
    expect((await platform.ledgerCall('POST', `/v1/wallets/${frozenLater}/freeze`, { reason: 'kyc review' })).status).toBe(200);
    await app().execute(payroll, batchId, {});
    const done = await settled(batchId, ['COMPLETED', 'PARTIALLY_FAILED', 'FAILED']);
    expect(done).toMatchObject({ status: 'PARTIALLY_FAILED', paidTotal: '30.50', releasedTotal: '7.00', reservation: 'released', progress: '1.0000' });
    expect(done.counts).toEqual({ PENDING: 0, PROCESSING: 0, SUCCEEDED: 2, FAILED: 8, REVERSED: 0, REVERSAL_FAILED: 0 });
    expect(await balanceOf(source)).toMatchObject({ balance: '969.50', available: '969.50', held: '0.00' });
    expect((await balanceOf(r1)).balance).toBe('10.00');
    expect((await balanceOf(r2)).balance).toBe('20.50');
    expect((await balanceOf(frozenLater)).balance).toBe('0.00');

    const failed = await app().listRows(payroll, batchId, { status: 'FAILED', pageSize: 5 });
    expect(failed.rows.map((row) => row.row)).toEqual([3, 4, 5, 6, 7]);
    const rest = await app().listRows(payroll, batchId, { status: 'FAILED', cursor: failed.nextCursor ?? undefined });
    expect(rest.rows.map((row) => [row.row, row.reason])).toEqual([[8, 'WALLET_FROZEN'], [9, 'SELF_PAYMENT'], [10, 'AMOUNT_INVALID']]);
    expect(rest.nextCursor).toBeNull();

    let report = '';
    for await (const piece of await app().report(payroll, batchId)) report += piece;
    const lines = report.trim().split('\r\n');
    expect(lines).toHaveLength(11);
    expect(lines[2]).toContain('"bonus, Q4"');
    expect(lines[2]).toContain('SUCCEEDED');

    // Compensation: one selected row, then every paid row left.
    await app().compensate(payroll, batchId, { rows: [2] });
    const partly = await settled(batchId, ['PARTIALLY_COMPENSATED', 'COMPENSATED', 'COMPLETED', 'PARTIALLY_FAILED']);
    expect(partly).toMatchObject({ status: 'PARTIALLY_COMPENSATED', reversedTotal: '20.50' });
    expect((await balanceOf(r2)).balance).toBe('0.00');
    await expect(app().compensate(payroll, batchId, { rows: [2] })).rejects.toMatchObject({ code: 'ROW_NOT_COMPENSABLE' });
    await app().compensate(payroll, batchId, {});
    const all = await settled(batchId, ['COMPENSATED']);
    expect(all.counts).toMatchObject({ SUCCEEDED: 0, REVERSED: 2, FAILED: 8 });
    expect((await balanceOf(source)).balance).toBe('1000.00');
    expect((await balanceOf(r1)).balance).toBe('0.00');
  });

  it('fails every row with the reason when the source cannot cover the batch, and reserves nothing', async () => {
    const source = await platform.openWallet('grace', 'EUR', '5.00');
    const r1 = await platform.openWallet('heidi', 'EUR');
    await waitFor(async () => (await platform.ledgerCall('GET', `/v1/queries/wallets/${r1}/balance`)).status === 200, 10_000, 'read model');
    const { batch } = await app().createBatch(payroll, { sourceWalletId: source, currency: 'EUR', idempotencyKey: `batch-${randomUUID()}` });
    await app().uploadRows(payroll, batch.batchId, textStream(`recipient_id,amount\n${r1},4.00\n${r1},3.00\n`));
    await app().execute(payroll, batch.batchId, {});
    const done = await settled(batch.batchId, ['FAILED', 'COMPLETED', 'PARTIALLY_FAILED']);
    expect(done).toMatchObject({ status: 'FAILED', reservation: 'refused', refusalReason: 'INSUFFICIENT_FUNDS', paidTotal: '0.00' });
    expect(done.counts).toMatchObject({ FAILED: 2, SUCCEEDED: 0, PENDING: 0 });
    const rows = await app().listRows(payroll, batch.batchId, {});
    expect(rows.rows.map((row) => row.reason)).toEqual(['INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS']);
    expect(await balanceOf(source)).toMatchObject({ balance: '5.00', held: '0.00' });
  });

  it('keeps batches idempotent: same key same batch, same file replayed, another file or a broken file refused with nothing recorded', async () => {
    const source = await platform.openWallet('ivan', 'EUR', '100.00');
    const r1 = await platform.openWallet('judy', 'EUR');
    await waitFor(async () => (await platform.ledgerCall('GET', `/v1/queries/wallets/${r1}/balance`)).status === 200, 10_000, 'read model');
    const key = `batch-${randomUUID()}`;
    const first = await app().createBatch(payroll, { sourceWalletId: source, currency: 'EUR', idempotencyKey: key });
    const again = await app().createBatch(payroll, { sourceWalletId: source, currency: 'EUR', idempotencyKey: key });
    expect(again).toMatchObject({ replayed: true, batch: { batchId: first.batch.batchId } });
    await expect(app().createBatch(payroll, { sourceWalletId: source, currency: 'EUR', description: 'other', idempotencyKey: key })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    const batchId = first.batch.batchId;
    await expect(app().uploadRows(payroll, batchId, textStream(`recipient_id,amount\n${r1},1.00\n${r1},"2.00\n`))).rejects.toMatchObject({ code: 'CSV_MALFORMED' });
    await expect(app().uploadRows(payroll, batchId, textStream('recipient,amount\n'))).rejects.toMatchObject({ code: 'CSV_HEADER_INVALID' });
    await expect(app().uploadRows(payroll, batchId, textStream(''))).rejects.toMatchObject({ code: 'CSV_EMPTY' });
    expect((await app().getBatch(payroll, batchId)).status).toBe('PENDING');
    const bom = `\uFEFFrecipient_id,amount\n${r1},1.00\n${r1},2.00\n`;
    const uploaded = await app().uploadRows(payroll, batchId, textStream(bom));
    expect(uploaded).toMatchObject({ rows: 2, validRows: 2, validTotal: '3.00', replayed: false });
    expect(await app().uploadRows(payroll, batchId, textStream(bom, 3))).toMatchObject({ rows: 2, replayed: true, fileSha256: uploaded.fileSha256 });
    await expect(app().uploadRows(payroll, batchId, textStream(`recipient_id,amount\n${r1},9.00\n`))).rejects.toMatchObject({ code: 'BATCH_CONTENT_CONFLICT' });
    await app().cancel(payroll, batchId, { reason: 'wrong month' });
    await expect(app().execute(payroll, batchId, {})).rejects.toMatchObject({ code: 'BATCH_NOT_EXECUTABLE' });
  });

  it('lets only the owner act, and asks a user for the transaction PIN', async () => {
    const source = await platform.openWallet('kim', 'EUR', '50.00');
    const r1 = await platform.openWallet('lee', 'EUR');
    await waitFor(async () => (await platform.ledgerCall('GET', `/v1/queries/wallets/${r1}/balance`)).status === 200, 10_000, 'read model');
    const kim = userPrincipal('kim');
    await expect(app().createBatch(userPrincipal('mallory'), { sourceWalletId: source, currency: 'EUR', idempotencyKey: `batch-${randomUUID()}` })).rejects.toMatchObject({ code: 'WALLET_ACCESS_DENIED' });
    const { batch } = await app().createBatch(kim, { sourceWalletId: source, currency: 'EUR', idempotencyKey: `batch-${randomUUID()}` });
    await app().uploadRows(kim, batch.batchId, textStream(`recipient_id,amount\n${r1},5.00\n`));
    await expect(app().getBatch(userPrincipal('mallory'), batch.batchId)).rejects.toMatchObject({ code: 'WALLET_ACCESS_DENIED' });
    const setPin = await platform.ledgerCall('PUT', '/v1/me/transaction-pin', { newPin: '2468' }, platform.token({ subject: 'kim', kind: 'user' }));
    expect(setPin.status).toBeLessThan(300);
    await expect(app().execute(kim, batch.batchId, {})).rejects.toMatchObject({ code: 'PIN_REQUIRED' });
    await expect(app().execute(kim, batch.batchId, { pin: '1111' })).rejects.toMatchObject({ code: 'PIN_INVALID' });
    expect((await app().getBatch(kim, batch.batchId)).status).toBe('VALIDATED');
    await app().execute(kim, batch.batchId, { pin: '2468' });
    expect((await settled(batch.batchId, ['COMPLETED'])).paidTotal).toBe('5.00');
  });
});
