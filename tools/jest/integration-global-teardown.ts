/** Stops the servers integration-global-setup started (never external ones). */
export default async function integrationGlobalTeardown(): Promise<void> {
  const stops = (globalThis as { __ledgerInfraStops?: Array<() => Promise<void>> }).__ledgerInfraStops ?? [];
  await Promise.all(stops.map((stop) => stop()));
}
