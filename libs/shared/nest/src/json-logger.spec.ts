import { JsonLogger, parseLogLevel } from './json-logger';
import { RequestContext } from './request-context';

describe('JsonLogger', () => {
  it('writes one JSON object per line with level, service, context and structured fields', () => {
    const lines: Array<[string, boolean]> = [];
    const logger = new JsonLogger('ledger', 'log', (line, isError) => lines.push([line, isError]));
    logger.log({ msg: 'appended', position: 42n }, 'EventStore');
    logger.warn('slow', 'Health');
    logger.debug('hidden below the level');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]![0])).toMatchObject({ level: 'log', service: 'ledger', context: 'EventStore', msg: 'appended', position: '42' });
    expect(lines[0]![1]).toBe(false);
    expect(JSON.parse(lines[1]![0])).toMatchObject({ level: 'warn', msg: 'slow', context: 'Health' });
    expect(lines[1]![1]).toBe(true);
  });

  it('adds the correlation id of the request it logs in, and none outside a request', async () => {
    const lines: string[] = [];
    const logger = new JsonLogger('ledger', 'log', (line) => lines.push(line));
    logger.log('before');
    await RequestContext.run({ correlationId: 'corr-42' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      logger.log({ msg: 'inside' }, 'Handler');
      logger.error(new Error('failed'), 'Handler');
      logger.log({ msg: 'explicit', correlationId: 'from-event' });
    });
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).not.toHaveProperty('correlationId');
    expect(entries[1]).toMatchObject({ msg: 'inside', context: 'Handler', correlationId: 'corr-42' });
    expect(entries[2]).toMatchObject({ msg: 'failed', correlationId: 'corr-42' });
    expect(entries[3]).toMatchObject({ msg: 'explicit', correlationId: 'from-event' });
  });

  it('refuses an unknown level name', () => {
    expect(() => parseLogLevel('chatty')).toThrow(/LOG_LEVEL must be one of/);
    expect(parseLogLevel('debug')).toBe('debug');
  });
});
