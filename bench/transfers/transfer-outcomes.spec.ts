import { grpcReason, grpcStatusReason, httpReason, ReasonTally, sqlReason } from './transfer-outcomes';

function metadata(values: Record<string, string>): { get(key: string): unknown[] } {
  return { get: (key) => (key in values ? [values[key]] : []) };
}

describe('reason codes', () => {
  it('reads gRPC failures from the reason-code trailer, else from the status', () => {
    expect(grpcReason({ code: 9, metadata: metadata({ 'reason-code': 'INSUFFICIENT_FUNDS' }) })).toBe('INSUFFICIENT_FUNDS');
    expect(grpcReason({ code: 14, metadata: metadata({ 'reason-code': 'OVERLOADED' }) })).toBe('OVERLOADED');
    expect(grpcReason({ code: 4, metadata: metadata({}) })).toBe('TIMEOUT');
    expect(grpcReason({ code: 14 })).toBe('UNAVAILABLE');
    expect(grpcReason({ code: 13, metadata: metadata({}) })).toBe('GRPC_STATUS_13');
    // The lean client reads the same off the wire: a status it could not parse is UNKNOWN.
    expect(grpcStatusReason(9, 'INSUFFICIENT_FUNDS')).toBe('INSUFFICIENT_FUNDS');
    expect(grpcStatusReason(4, undefined)).toBe('TIMEOUT');
    expect(grpcStatusReason(Number('x'), '')).toBe('GRPC_STATUS_UNKNOWN');
  });

  it('reads HTTP failures from the problem document, else from the status', () => {
    expect(httpReason(422, JSON.stringify({ type: 'urn:ledger:problem:INSUFFICIENT_FUNDS', code: 'INSUFFICIENT_FUNDS' }))).toBe('INSUFFICIENT_FUNDS');
    expect(httpReason(502, '<html>bad gateway</html>')).toBe('HTTP_502');
    expect(httpReason(500, JSON.stringify({ code: 42 }))).toBe('HTTP_500');
  });

  it('reads baseline failures from what the baseline raised, else from the SQLSTATE', () => {
    expect(sqlReason(Object.assign(new Error('INSUFFICIENT_FUNDS'), { code: 'P0001' }))).toBe('INSUFFICIENT_FUNDS');
    expect(sqlReason(new Error('Query read timeout'))).toBe('TIMEOUT');
    expect(sqlReason(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe('PG_40P01');
    expect(sqlReason('weird')).toBe('PG_ERROR');
  });
});

describe('ReasonTally', () => {
  it('keeps named outcomes and counts every other code under OTHER by its raw name', () => {
    const tally = new ReasonTally();
    expect(tally.outcomeOf('OVERLOADED')).toBe('OVERLOADED');
    expect(tally.outcomeOf('TIMEOUT')).toBe('TIMEOUT');
    expect(tally.outcomeOf('WALLET_FROZEN')).toBe('OTHER');
    expect(tally.outcomeOf('HTTP_502')).toBe('OTHER');
    expect(tally.outcomeOf('HTTP_502')).toBe('OTHER');
    expect(tally.outcomeOf('OTHER')).toBe('OTHER'); // a server code that happens to be spelled OTHER is still raw
    expect(tally.snapshot()).toEqual({ HTTP_502: 2, WALLET_FROZEN: 1, OTHER: 1 });
    tally.reset();
    expect(tally.snapshot()).toEqual({});
  });
});
