import { IllegalStateError, ValidationError } from '@ledger/errors';
import { describeError } from './error-status.mapping';
import { problemTypeFor, toProblemDetails } from './problem-details';

describe('toProblemDetails', () => {
  it('has the RFC 7807 members, our code and correlation id, then safe details as extensions', () => {
    const problem = toProblemDetails(
      describeError(new IllegalStateError('INSUFFICIENT_FUNDS', 'Wallet w-1 has 1.00 USD available', { walletId: 'w-1', available: '1.00' })),
      'corr-1',
    );
    expect(problem).toEqual({
      type: 'urn:ledger:problem:INSUFFICIENT_FUNDS',
      title: 'Refused in the current state',
      status: 422,
      detail: 'Wallet w-1 has 1.00 USD available',
      code: 'INSUFFICIENT_FUNDS',
      correlationId: 'corr-1',
      walletId: 'w-1',
      available: '1.00',
    });
  });

  it('never lets details override the standard members', () => {
    const problem = toProblemDetails(
      describeError(new ValidationError('INVALID_AMOUNT', 'bad amount', { status: 200, type: 'about:blank', code: 'OK', correlationId: 'forged', instance: '/x', amount: '1e3' })),
      'corr-2',
    );
    expect(problem).toEqual({
      type: problemTypeFor('INVALID_AMOUNT'),
      title: 'Invalid request',
      status: 400,
      detail: 'bad amount',
      code: 'INVALID_AMOUNT',
      correlationId: 'corr-2',
      amount: '1e3',
    });
  });

  it('gives unknown errors a generic body', () => {
    const problem = toProblemDetails(describeError(new Error('SELECT * FROM secrets')), 'corr-3');
    expect(problem).toMatchObject({ type: 'urn:ledger:problem:INTERNAL', status: 500, code: 'INTERNAL', correlationId: 'corr-3' });
    expect(JSON.stringify(problem)).not.toContain('secrets');
  });
});
