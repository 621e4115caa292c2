import { issueDevToken, loadAuthConfig, type PrincipalKind } from '@ledger/auth';
import { parseArgs } from 'node:util';

/**
 * Prints a development token for the embedded default (HS256, the documented dev secret unless
 * JWT_SECRET is set), e.g.
 *
 *   node -r @swc-node/register tools/dev-token.ts --sub alice
 *   node -r @swc-node/register tools/dev-token.ts --sub payouts --service --scope ledger:service --ttl 600
 *
 * The token goes to stdout alone, so `TOKEN=$(…)` works; notes go to stderr.
 */
const USAGE = 'usage: dev-token --sub <subject> [--service] [--scope <scope>]... [--ttl <seconds>]';

function main(): number {
  let values: { sub?: string; service?: boolean; scope?: string[]; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        service: { type: 'boolean', default: false },
        scope: { type: 'string', multiple: true, default: [] },
        ttl: { type: 'string', default: '3600' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.sub) {
    process.stderr.write(`--sub is required\n${USAGE}\n`);
    return 2;
  }
  const ttlSeconds = Number(values.ttl);
  if (!/^\d+$/.test(values.ttl ?? '') || !Number.isSafeInteger(ttlSeconds)) {
    process.stderr.write(`--ttl must be a whole number of seconds\n${USAGE}\n`);
    return 2;
  }
  const config = loadAuthConfig(process.env, { allowDevSecret: true });
  if (config.usedDevSecret) {
    process.stderr.write('warning: signed with the published development secret (JWT_SECRET unset): embedded mode only\n');
  }
  const kind: PrincipalKind = values.service ? 'service' : 'user';
  process.stdout.write(
    `${issueDevToken({ subject: values.sub, kind, scopes: values.scope ?? [], ttlSeconds }, config.jwt)}\n`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  process.stderr.write(`dev-token: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
