import { createServer } from 'node:net';

export class PortInUseError extends Error {
  readonly code = 'PORT_IN_USE' as const;
  constructor(readonly host: string, readonly port: number, what: string) {
    super(`${what} cannot listen on ${host}:${port}: the port is already in use. Choose another port or stop what holds it.`);
    this.name = 'PortInUseError';
  }
}

/** Resolves when nothing listens on host:port; throws PortInUseError otherwise. */
export async function assertPortFree(port: number, what: string, host = '127.0.0.1'): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(`${what}: port must be an integer from 1 to 65535; got ${port}`);
  }
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, what) : error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Asks the kernel for a free port on host. Another process may take it before use; callers retry. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
