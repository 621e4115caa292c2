import { parsePayoutCsv } from '@ledger/payouts-csv';
import { randomUUID } from 'node:crypto';
import { CSV_HEADER, formatMinor, PayoutPlan } from './payout-plan';

async function* bytes(pieces: Iterable<string>): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield Buffer.from(piece, 'utf8');
}

describe('PayoutPlan', () => {
  it('pays every recipient, never the same recipient, amount and reference twice', () => {
    const plan = new PayoutPlan(2_000, 200);
    const seen = new Set<string>();
    const recipients = new Set<number>();
    let total = 0n;
    for (let i = 0; i < plan.rows; i += 1) {
      const p = plan.payment(i);
      const key = `${p.recipient}|${p.amountMinor}|${p.reference ?? ''}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      recipients.add(p.recipient);
      expect(p.amountMinor > 0n).toBe(true);
      total += p.amountMinor;
    }
    expect(recipients.size).toBe(200);
    expect(plan.totalMinor()).toBe(total);
    expect(plan.sliceTotalMinor(10)).toBe([...Array(10).keys()].reduce((sum, i) => sum + plan.payment(i).amountMinor, 0n));
  });

  it('writes a CSV the payouts parser reads back row for row', async () => {
    const plan = new PayoutPlan(500, 50);
    const ids = Array.from({ length: 50 }, () => randomUUID());
    const pieces = [...plan.csvPieces(ids, 1_000)];
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces[0]!.startsWith(`${CSV_HEADER}\n`)).toBe(true);
    const parsed = [];
    for await (const rows of parsePayoutCsv(bytes(pieces), { limits: { maxFileBytes: 1_000_000, maxRows: 1_000, maxLineBytes: 1_024 } })) parsed.push(...rows);
    expect(parsed).toHaveLength(500);
    parsed.forEach((row, i) => {
      const p = plan.payment(i);
      expect(row.recipientId).toBe(ids[p.recipient]);
      expect(row.amount).toBe(formatMinor(p.amountMinor));
      expect(row.reference === '' || row.reference === undefined ? undefined : row.reference).toBe(p.reference);
    });
  });

  it('formats minor units with two decimals', () => {
    expect(formatMinor(5n)).toBe('0.05');
    expect(formatMinor(123_456n)).toBe('1234.56');
    expect(formatMinor(-7n)).toBe('-0.07');
  });
});
