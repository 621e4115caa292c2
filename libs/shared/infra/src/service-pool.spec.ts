import { openServicePool } from './service-pool';

describe('openServicePool', () => {
  it('reports idle-client errors until shutdown begins, then keeps quiet; close is idempotent', async () => {
    const reported: string[] = [];
    const pools = openServicePool({ url: 'postgres://127.0.0.1:1/none', max: 2, applicationName: 'spec', onIdleError: (error) => reported.push(error.message) });
    expect(pools.pool.options).toMatchObject({ max: 2, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000, idle_in_transaction_session_timeout: 10_000, application_name: 'spec' });
    pools.pool.emit('error', new Error('server ended the connection'));
    pools.shuttingDown();
    pools.pool.emit('error', new Error('during shutdown'));
    await pools.close();
    await pools.close();
    expect(reported).toEqual(['server ended the connection']);
  });
});
