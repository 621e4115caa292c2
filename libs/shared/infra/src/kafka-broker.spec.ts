import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaBrokerError, startKafkaBroker } from './kafka-broker';

const REPO_ROOT = join(__dirname, '..', '..', '..', '..');

describe('startKafkaBroker options', () => {
  it.each([
    [{ dataDir: '/tmp/unused', heapMb: 16 }, /heapMb/],
    [{ dataDir: '/tmp/unused', heapMb: 512.5 }, /heapMb/],
    [{ dataDir: '/tmp/unused', startTimeoutMs: 10 }, /startTimeoutMs/],
    [{ dataDir: '/tmp/unused', port: 70_000 }, /port/],
    [{ dataDir: '/tmp/unused', controllerPort: -1 }, /controllerPort/],
    [{ dataDir: '' }, /dataDir/],
  ])('rejects %p before fetching or spawning anything', async (options, message) => {
    const error = await startKafkaBroker(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaBrokerError);
    expect(error).toMatchObject({ code: 'INVALID_OPTIONS' });
    expect((error as Error).message).toMatch(message);
  });
});

describe('deploy/kafka/server.properties.template', () => {
  const template = readFileSync(join(REPO_ROOT, 'deploy', 'kafka', 'server.properties.template'), 'utf8');
  const settings = new Map(
    template
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );

  it.each([
    ['process.roles', 'broker,controller'],
    ['controller.quorum.voters', '1@127.0.0.1:@CONTROLLER_PORT@'],
    ['listeners', 'PLAINTEXT://127.0.0.1:@PORT@,CONTROLLER://127.0.0.1:@CONTROLLER_PORT@'],
    ['advertised.listeners', 'PLAINTEXT://127.0.0.1:@PORT@'],
    ['controller.listener.names', 'CONTROLLER'],
    ['log.dirs', '@LOG_DIRS@'],
    // Without these three a single node never finds a group coordinator.
    ['offsets.topic.replication.factor', '1'],
    ['transaction.state.log.replication.factor', '1'],
    ['transaction.state.log.min.isr', '1'],
    ['group.initial.rebalance.delay.ms', '0'],
    ['auto.create.topics.enable', 'false'],
    ['num.partitions', '3'],
  ])('sets %s=%s', (name, value) => {
    expect(settings.get(name)).toBe(value);
  });

  it('listens on loopback only', () => {
    for (const [name, value] of settings) {
      if (/listeners|voters/.test(name)) expect(value).not.toMatch(/0\.0\.0\.0|localhost|:\/\/:/);
    }
  });
});
