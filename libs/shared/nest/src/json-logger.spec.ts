import { JsonLogger, parseLogLevel } from './json-logger';

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

  it('refuses an unknown level name', () => {
    expect(() => parseLogLevel('chatty')).toThrow(/LOG_LEVEL must be one of/);
    expect(parseLogLevel('debug')).toBe('debug');
  });
});
