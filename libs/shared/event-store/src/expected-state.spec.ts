import { EventStoreValidationError } from './event-store.errors';
import { assertExpectedState, expectationHolds, parseExpectedState } from './expected-state';

describe('expected state', () => {
  it.each([
    ['any', 'no_stream', true],
    ['any', 3n, true],
    ['no_stream', 'no_stream', true],
    ['no_stream', 0n, false],
    ['stream_exists', 'no_stream', false],
    ['stream_exists', 0n, true],
    [2n, 2n, true],
    [2n, 3n, false],
    [0n, 'no_stream', false],
  ] as const)('%p against actual %p holds: %p', (expected, actual, holds) => {
    expect(expectationHolds(expected, actual)).toBe(holds);
  });

  it('parses the wire form and refuses anything else by name', () => {
    expect(parseExpectedState('no_stream')).toBe('no_stream');
    expect(parseExpectedState('17')).toBe(17n);
    for (const bad of ['', '-1', '01', '1.5', 'latest', '1e3', '99999999999999999999']) {
      expect(() => parseExpectedState(bad)).toThrow(EventStoreValidationError);
    }
    expect(() => assertExpectedState(5)).toThrow(/INVALID_EXPECTED_STATE|Expected state/);
    expect(() => assertExpectedState(2n ** 62n)).toThrow(EventStoreValidationError);
  });
});
