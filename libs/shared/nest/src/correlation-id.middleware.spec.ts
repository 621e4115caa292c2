import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { acceptCorrelationId, CORRELATION_ID_MAX_LENGTH } from './correlation-id';
import { correlationIdMiddleware } from './correlation-id.middleware';
import { RequestContext } from './request-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function run(header: string | string[] | undefined): { responseHeader: unknown; inContext: string | undefined } {
  const request = { headers: header === undefined ? {} : { 'x-correlation-id': header } } as unknown as IncomingMessage;
  const headers = new Map<string, unknown>();
  const response = Object.assign(new EventEmitter(), { setHeader: (name: string, value: unknown) => headers.set(name.toLowerCase(), value) }) as unknown as ServerResponse;
  let inContext: string | undefined;
  correlationIdMiddleware()(request, response, () => {
    inContext = RequestContext.currentCorrelationId();
  });
  return { responseHeader: headers.get('x-correlation-id'), inContext };
}

describe('correlationIdMiddleware', () => {
  it.each(['abc-123', '3f2b8a8e-5c1d-4a7e-9b1a-0c2d3e4f5a6b', '01HZY3J8Q6R2T9V4W7X0Y5Z1AB', 'svc.payouts:batch-42_row-7', 'a'.repeat(CORRELATION_ID_MAX_LENGTH)])(
    'keeps a valid id (%s), echoes it and runs the request in its context',
    (id) => {
      expect(run(id)).toEqual({ responseHeader: id, inContext: id });
    },
  );

  it.each([
    ['overlong', 'a'.repeat(CORRELATION_ID_MAX_LENGTH + 1)],
    ['empty', ''],
    ['with spaces', 'abc 123'],
    ['with CR/LF (header injection)', 'abc\r\nSet-Cookie: x=1'],
    ['with quotes', 'abc"def'],
    ['starting with punctuation', '-abc'],
    ['non-ASCII', 'abcé'],
    ['repeated header', ['abc', 'def']],
  ])('replaces an invalid id (%s) with a fresh UUID', (_why, header) => {
    const { responseHeader, inContext } = run(header);
    expect(responseHeader).toMatch(UUID);
    expect(inContext).toBe(responseHeader);
  });

  it('generates a UUID when the header is absent, different per request', () => {
    const first = run(undefined);
    const second = run(undefined);
    expect(first.responseHeader).toMatch(UUID);
    expect(second.responseHeader).not.toBe(first.responseHeader);
  });

  it('accepts only strings', () => {
    expect(acceptCorrelationId(42)).toBeUndefined();
    expect(acceptCorrelationId(Buffer.from('abc'))).toBeUndefined();
  });
});

describe('RequestContext', () => {
  it('follows async work started inside it and is absent outside', async () => {
    expect(RequestContext.current()).toBeUndefined();
    const seen = await RequestContext.run({ correlationId: 'c-1' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return RequestContext.currentCorrelationId();
    });
    expect(seen).toBe('c-1');
    expect(RequestContext.current()).toBeUndefined();
  });

  it('keeps concurrent requests apart', async () => {
    const ids = await Promise.all(
      ['a', 'b', 'c'].map((id, index) =>
        RequestContext.run({ correlationId: id }, async () => {
          await new Promise((resolve) => setTimeout(resolve, 3 - index));
          return RequestContext.currentCorrelationId();
        }),
      ),
    );
    expect(ids).toEqual(['a', 'b', 'c']);
  });

  it('records the principal subject once per request', () => {
    RequestContext.run({ correlationId: 'c-2' }, () => {
      const context = RequestContext.current()!;
      expect(context.principalSubject).toBeUndefined();
      context.setPrincipalSubject('user-1');
      context.setPrincipalSubject('user-1');
      expect(RequestContext.current()?.principalSubject).toBe('user-1');
      expect(() => context.setPrincipalSubject('user-2')).toThrow(/already belongs/);
    });
  });
});
