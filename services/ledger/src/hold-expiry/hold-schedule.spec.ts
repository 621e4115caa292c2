import fc from 'fast-check';
import { HoldSchedule, type TrackedHold } from './hold-schedule';

function hold(n: number, expiresAtMs: number): TrackedHold {
  return { holdId: `h${n.toString().padStart(4, '0')}`, walletId: 'w', expiresAtMs, placedPosition: BigInt(n), correlationId: 'c', placedEventId: `e${n}` };
}

describe('HoldSchedule', () => {
  it('takes due holds by deadline, keeps taken ones tracked until removed, and knows the oldest placement', () => {
    const schedule = new HoldSchedule(10);
    expect(schedule.add(hold(1, 300))).toBe(true);
    expect(schedule.add(hold(2, 100))).toBe(true);
    expect(schedule.add(hold(3, 200))).toBe(true);
    expect(schedule.add(hold(3, 50))).toBe(false); // already tracked
    expect(schedule.nextDueAtMs()).toBe(100);
    expect(schedule.takeDue(250, 10).map((h) => h.holdId)).toEqual(['h0002', 'h0003']);
    expect(schedule.size).toBe(3);
    expect(schedule.nextDueAtMs()).toBe(300);
    expect(schedule.remove('h0001')).toBe(true);
    expect(schedule.oldestPlacement()).toBe(2n); // h0002 is in flight, still tracked
    expect(schedule.giveBack('h0002', 400)).toBe(true);
    expect(schedule.remove('h0003')).toBe(true);
    expect(schedule.giveBack('h0003', 400)).toBe(false);
    expect(schedule.takeDue(399, 10)).toEqual([]);
    expect(schedule.takeDue(400, 10).map((h) => h.holdId)).toEqual(['h0002']);
  });

  it('keeps deadline order when a hold leaves the middle of the heap', () => {
    const schedule = new HoldSchedule(20);
    // Added in this order, each lands where it is appended: a full heap of four levels.
    [1, 10, 2, 11, 12, 3, 4, 13, 14, 15, 16, 5, 6, 7, 8].forEach((due, i) => schedule.add(hold(i + 1, due)));
    schedule.remove('h0004'); // due 11: the last entry (due 8) moves under due 10 and must rise
    expect(schedule.takeDue(100, 20).map((h) => h.expiresAtMs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16]);
  });

  it('refuses holds beyond its capacity', () => {
    const schedule = new HoldSchedule(2);
    expect(schedule.add(hold(1, 1))).toBe(true);
    expect(schedule.add(hold(2, 1))).toBe(true);
    expect(schedule.isFull).toBe(true);
    expect(schedule.add(hold(3, 1))).toBe(false);
    expect(schedule.size).toBe(2);
    expect(() => new HoldSchedule(0)).toThrow(RangeError);
  });

  it('matches a naive model under random adds, removes, takes and give-backs', () => {
    type Op = { kind: 'add'; due: number } | { kind: 'remove'; pick: number } | { kind: 'take'; now: number; max: number } | { kind: 'giveBack'; pick: number; due: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('add' as const), due: fc.integer({ min: 0, max: 50 }) }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('take' as const), now: fc.integer({ min: 0, max: 60 }), max: fc.integer({ min: 1, max: 5 }) }), weight: 1 },
      { arbitrary: fc.record({ kind: fc.constant('giveBack' as const), pick: fc.nat(), due: fc.integer({ min: 0, max: 60 }) }), weight: 2 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const schedule = new HoldSchedule(capacity);
        // Model: tracked holds in placement order, each waiting (with a due time) or in flight.
        const model = new Map<string, { position: number; due: number | undefined }>();
        let next = 0;
        for (const step of ops) {
          const ids = [...model.keys()];
          if (step.kind === 'add') {
            next += 1;
            const accepted = schedule.add(hold(next, step.due));
            expect(accepted).toBe(model.size < capacity);
            if (accepted) model.set(hold(next, 0).holdId, { position: next, due: step.due });
          } else if (step.kind === 'remove' && ids.length > 0) {
            const id = ids[step.pick % ids.length] as string;
            expect(schedule.remove(id)).toBe(true);
            model.delete(id);
          } else if (step.kind === 'take') {
            const expected = [...model.entries()]
              .filter(([, m]) => m.due !== undefined && m.due <= step.now)
              .sort(([a, x], [b, y]) => (x.due as number) - (y.due as number) || (a < b ? -1 : 1))
              .slice(0, step.max)
              .map(([id]) => id);
            expect(schedule.takeDue(step.now, step.max).map((h) => h.holdId)).toEqual(expected);
            for (const id of expected) (model.get(id) as { due: number | undefined }).due = undefined;
          } else if (step.kind === 'giveBack' && ids.length > 0) {
            const id = ids[step.pick % ids.length] as string;
            expect(schedule.giveBack(id, step.due)).toBe(true);
            (model.get(id) as { due: number | undefined }).due = step.due;
          }
          expect(schedule.size).toBe(model.size);
          const waiting = [...model.values()].map((m) => m.due).filter((d): d is number => d !== undefined);
          expect(schedule.nextDueAtMs()).toBe(waiting.length > 0 ? Math.min(...waiting) : undefined);
          const first = model.values().next();
          expect(schedule.oldestPlacement()).toBe(first.done ? undefined : BigInt(first.value.position));
        }
      }),
      { numRuns: 500 },
    );
  });
});
