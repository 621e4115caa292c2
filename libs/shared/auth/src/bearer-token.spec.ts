import { UnauthenticatedError } from '@ledger/errors';
import { caught } from './auth-spec-kit';
import { parseBearer } from './bearer-token';

describe('parseBearer', () => {
  it('takes the token from an HTTP header or single gRPC metadata value', () => {
    expect(parseBearer('Bearer aaa.bbb.ccc')).toBe('aaa.bbb.ccc');
    expect(parseBearer('bearer   aaa.bbb.ccc ')).toBe('aaa.bbb.ccc');
    expect(parseBearer(['Bearer aaa.bbb-_.c'])).toBe('aaa.bbb-_.c');
  });

  it.each([[undefined], [null], [''], ['   '], [[]]])('refuses %p as TOKEN_MISSING', async (value) => {
    const error = await caught(() => parseBearer(value as never));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error.code).toBe('TOKEN_MISSING');
  });

  it.each([
    ['Basic YWxpY2U6c2VjcmV0', 'not_bearer', 'YWxpY2U6c2VjcmV0'],
    ['Bearer', 'not_bearer', undefined],
    ['Bearer two tokens', 'not_bearer', 'two tokens'],
    ['Bearer aaa.b"b.ccc', 'not_bearer', 'aaa.b'],
    ['aaa.bbb.ccc', 'not_bearer', 'aaa.bbb.ccc'],
    [`Bearer ${'a'.repeat(9_000)}`, 'too_long', 'aaaaaaaa'],
  ])('refuses %p as TOKEN_MALFORMED without echoing it', async (value, reason, credential) => {
    const error = await caught(() => parseBearer(value));
    expect(error.code).toBe('TOKEN_MALFORMED');
    expect(error.details['reason']).toBe(reason);
    if (credential !== undefined) expect(`${error.message}${JSON.stringify(error.details)}`).not.toContain(credential);
  });

  it('refuses several values and binary values rather than guessing', async () => {
    expect((await caught(() => parseBearer(['Bearer a.b.c', 'Bearer d.e.f']))).details['reason']).toBe('multiple_values');
    expect((await caught(() => parseBearer([Buffer.from('Bearer a.b.c')]))).details['reason']).toBe('not_text');
  });
});
