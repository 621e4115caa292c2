import { ForbiddenError, IllegalStateError, RateLimitedError, ValidationError } from '@ledger/errors';
import { randomUUID } from 'node:crypto';
import { caught } from '../auth-spec-kit';
import { InMemoryPinStore } from './in-memory-pin-store';
import { ScryptPinHasher } from './pin-hasher';
import type { PinPolicy } from './pin-policy';
import { PinService } from './pin.service';

/** Cheap parameters keep these specs fast; the production parameters are exercised in pin-hasher.spec and the PostgreSQL spec. */
const FAST = { cost: 1_024, blockSize: 8, parallelization: 1, keyLengthBytes: 32 };
const POLICY: PinPolicy = { maxAttempts: 5, lockSeconds: 900 };
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

function setup(policy: PinPolicy = POLICY): { store: InMemoryPinStore; pins: PinService; owner: string } {
  const store = new InMemoryPinStore();
  return { store, pins: new PinService(store, policy, new ScryptPinHasher(FAST)), owner: `owner-${randomUUID()}` };
}

async function codeOf(action: () => Promise<unknown>): Promise<string> {
  return (await caught(action)).code;
}

describe('PinService: format', () => {
  it.each(['123', '12345', '12a4', ' 1234', '1234 ', '١٢٣٤', '', '12.4', '+123'])('refuses %p with PIN_FORMAT_INVALID', async (pin) => {
    const { pins, owner } = setup();
    const onSet = await caught(() => pins.setPin(owner, pin, T0));
    expect(onSet).toBeInstanceOf(ValidationError);
    expect(onSet).toMatchObject({ code: 'PIN_FORMAT_INVALID', details: { field: 'pin' } });
    await pins.setPin(owner, '0000', T0);
    expect(await codeOf(() => pins.verifyPin(owner, pin, T0))).toBe('PIN_FORMAT_INVALID');
    expect(await caught(() => pins.setPin(owner, '1111', T0, pin))).toMatchObject({ code: 'PIN_FORMAT_INVALID', details: { field: 'currentPin' } });
  });

  it('does not count a malformed PIN as an attempt', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '2468', T0);
    for (let i = 0; i < 10; i += 1) await codeOf(() => pins.verifyPin(owner, '12', T0));
    expect(await caught(() => pins.verifyPin(owner, '0000', T0))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: 4 } });
  });

  it('refuses a non-number as a PIN and bad owner ids', async () => {
    const { pins } = setup();
    expect(await codeOf(() => pins.verifyPin('x', 1234 as unknown as string, T0))).toBe('PIN_FORMAT_INVALID');
    expect(await codeOf(() => pins.setPin('', '1234', T0))).toBe('OWNER_ID_INVALID');
    expect(await codeOf(() => pins.setPin('x'.repeat(201), '1234', T0))).toBe('OWNER_ID_INVALID');
  });
});

describe('PinService: verification and lockout', () => {
  it('PIN_NOT_SET before the first set, as an illegal state', async () => {
    const { pins, owner } = setup();
    const error = await caught(() => pins.verifyPin(owner, '1234', T0));
    expect(error).toBeInstanceOf(IllegalStateError);
    expect(error.code).toBe('PIN_NOT_SET');
  });

  it('accepts the right PIN, refuses a wrong one with the attempts remaining', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '0420', T0);
    await expect(pins.verifyPin(owner, '0420', T0)).resolves.toBeUndefined();
    const error = await caught(() => pins.verifyPin(owner, '4200', T0));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: 4 } });
  });

  it('locks after exactly 5 consecutive failures, refuses even the right PIN until the lock ends, then unlocks', async () => {
    const { pins, owner, store } = setup();
    await pins.setPin(owner, '1357', T0);
    for (const remaining of [4, 3, 2, 1]) {
      expect(await caught(() => pins.verifyPin(owner, '9999', at(remaining)))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: remaining } });
    }
    const locking = await caught(() => pins.verifyPin(owner, '9999', at(10)));
    expect(locking).toBeInstanceOf(RateLimitedError);
    expect(locking).toMatchObject({
      code: 'PIN_LOCKED',
      details: { lockedUntil: at(910).toISOString(), retryAfterSeconds: 900, attemptsRemaining: 0 },
    });
    expect(store.peek(owner)).toMatchObject({ consecutiveFailures: 5, lockedUntil: at(910) });

    expect(await caught(() => pins.verifyPin(owner, '1357', at(11)))).toMatchObject({ code: 'PIN_LOCKED', details: { retryAfterSeconds: 899 } });
    expect(await codeOf(() => pins.verifyPin(owner, '1357', new Date(at(910).getTime() - 1)))).toBe('PIN_LOCKED');
    // A refused attempt during the lock neither extends it nor counts.
    expect(store.peek(owner)).toMatchObject({ consecutiveFailures: 5, lockedUntil: at(910) });

    await expect(pins.verifyPin(owner, '1357', at(910))).resolves.toBeUndefined();
    expect(store.peek(owner)).toMatchObject({ consecutiveFailures: 0, lockedUntil: null });
  });

  it('starts a fresh count when a lock has run out', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '1357', T0);
    for (let i = 0; i < 5; i += 1) await codeOf(() => pins.verifyPin(owner, '0000', T0));
    expect(await caught(() => pins.verifyPin(owner, '0000', at(900)))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: 4 } });
    for (const remaining of [3, 2, 1]) {
      expect(await caught(() => pins.verifyPin(owner, '0000', at(901)))).toMatchObject({ details: { attemptsRemaining: remaining } });
    }
    expect(await codeOf(() => pins.verifyPin(owner, '0000', at(902)))).toBe('PIN_LOCKED');
  });

  it('a success resets the count', async () => {
    const { pins, owner, store } = setup();
    await pins.setPin(owner, '8642', T0);
    for (let i = 0; i < 4; i += 1) await codeOf(() => pins.verifyPin(owner, '0000', T0));
    expect(store.peek(owner)?.consecutiveFailures).toBe(4);
    await pins.verifyPin(owner, '8642', at(1));
    expect(store.peek(owner)?.consecutiveFailures).toBe(0);
    for (const remaining of [4, 3, 2, 1]) {
      expect(await caught(() => pins.verifyPin(owner, '0000', at(2)))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: remaining } });
    }
  });

  it('follows the configured policy', async () => {
    const { pins, owner } = setup({ maxAttempts: 2, lockSeconds: 60 });
    await pins.setPin(owner, '1111', T0);
    expect(await codeOf(() => pins.verifyPin(owner, '2222', T0))).toBe('PIN_INVALID');
    expect(await caught(() => pins.verifyPin(owner, '2222', T0))).toMatchObject({ code: 'PIN_LOCKED', details: { lockedUntil: at(60).toISOString() } });
  });

  it('counts every one of many parallel wrong guesses', async () => {
    const { pins, owner, store } = setup();
    await pins.setPin(owner, '5555', T0);
    const results = await Promise.all(Array.from({ length: 12 }, () => codeOf(() => pins.verifyPin(owner, '0000', T0))));
    expect(results.filter((code) => code === 'PIN_INVALID')).toHaveLength(4);
    expect(results.filter((code) => code === 'PIN_LOCKED')).toHaveLength(8);
    expect(store.peek(owner)).toMatchObject({ consecutiveFailures: 5, lockedUntil: at(900) });
  });

  it('never puts the PIN into an error', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '7391', T0);
    const errors = [];
    for (let i = 0; i < 6; i += 1) errors.push(await caught(() => pins.verifyPin(owner, '7390', T0)));
    errors.push(await caught(() => pins.setPin(owner, '7391', T0, '7390')));
    for (const error of errors) expect(`${error.message} ${JSON.stringify(error.details)}`).not.toMatch(/739[01]/);
  });
});

describe('PinService: set and change', () => {
  it('changing needs the current PIN', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '1234', T0);
    expect(await caught(() => pins.setPin(owner, '4321', T0))).toMatchObject({ code: 'PIN_CURRENT_REQUIRED' });
    await expect(pins.verifyPin(owner, '1234', T0)).resolves.toBeUndefined();
  });

  it('a wrong current PIN is a counted attempt and changes nothing', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '1234', T0);
    expect(await caught(() => pins.setPin(owner, '4321', T0, '0000'))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: 4 } });
    expect(await caught(() => pins.verifyPin(owner, '4321', T0))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: 3 } });
    await expect(pins.verifyPin(owner, '1234', T0)).resolves.toBeUndefined();
  });

  it('the right current PIN replaces it with a new salt and resets the count', async () => {
    const { pins, owner, store } = setup();
    await pins.setPin(owner, '1234', T0);
    const before = store.peek(owner)!;
    await codeOf(() => pins.verifyPin(owner, '0000', T0));
    await pins.setPin(owner, '1234', at(5), '1234');
    const after = store.peek(owner)!;
    expect(after.salt.equals(before.salt)).toBe(false);
    expect(after.hash.equals(before.hash)).toBe(false);
    expect(after).toMatchObject({ consecutiveFailures: 0, updatedAt: at(5) });
    await pins.setPin(owner, '9876', at(6), '1234');
    expect(await codeOf(() => pins.verifyPin(owner, '1234', at(7)))).toBe('PIN_INVALID');
    await expect(pins.verifyPin(owner, '9876', at(7))).resolves.toBeUndefined();
  });

  it('a locked PIN cannot be changed', async () => {
    const { pins, owner } = setup();
    await pins.setPin(owner, '1234', T0);
    for (let i = 0; i < 5; i += 1) await codeOf(() => pins.verifyPin(owner, '0000', T0));
    expect(await codeOf(() => pins.setPin(owner, '4321', at(1), '1234'))).toBe('PIN_LOCKED');
  });

  it('two parallel first sets: exactly one wins, the other must give the current PIN', async () => {
    const { pins, owner } = setup();
    const results = await Promise.allSettled([pins.setPin(owner, '1111', T0), pins.setPin(owner, '2222', T0)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).toMatchObject({ code: 'PIN_CURRENT_REQUIRED' });
  });

  it('rehashes a PIN stored with older parameters after a successful verification', async () => {
    const store = new InMemoryPinStore();
    const owner = `owner-${randomUUID()}`;
    await new PinService(store, POLICY, new ScryptPinHasher(FAST)).setPin(owner, '2580', T0);
    const upgraded = { ...FAST, cost: 2_048 };
    const pins = new PinService(store, POLICY, new ScryptPinHasher(upgraded));
    await codeOf(() => pins.verifyPin(owner, '0000', T0));
    expect(store.peek(owner)?.params).toEqual(FAST);
    await pins.verifyPin(owner, '2580', at(1));
    expect(store.peek(owner)).toMatchObject({ params: upgraded, consecutiveFailures: 0 });
    await expect(pins.verifyPin(owner, '2580', at(2))).resolves.toBeUndefined();
  });
});
