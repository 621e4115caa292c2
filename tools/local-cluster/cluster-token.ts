import { issueDevToken, loadAuthConfig, type DevTokenRequest } from '@ledger/auth';
import type { LocalCluster } from './local-cluster';

/**
 * A service token the cluster's services accept: signed with the cluster's own HS256 secret, for
 * its issuer and audience (never the published development secret).
 */
export function clusterServiceToken(cluster: Pick<LocalCluster, 'jwt'>, request: Omit<DevTokenRequest, 'kind'>): string {
  const { secret, issuer, audience } = cluster.jwt;
  const { jwt } = loadAuthConfig({ JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: audience }, { allowDevSecret: false });
  return issueDevToken({ ...request, kind: 'service' }, jwt);
}
