import { Server, ServerCredentials, type ChannelOptions, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath, type ServingStatus } from 'grpc-health-check';
import { loadProtoFiles } from './grpc-proto.loader';
import type { GrpcServerLimits } from './grpc-server.config';

export interface GrpcServiceRegistration {
  /** Fully qualified service name from the loaded protos, e.g. `ledger.v1.LedgerService`. */
  readonly name: string;
  /** Handlers keyed by method name as in the proto (`OpenWallet`) or lower camel (`openWallet`). */
  readonly implementation: UntypedServiceImplementation;
}

export interface GrpcServerOptions {
  readonly host: string;
  /** 0 binds any free port; the bound one is returned. */
  readonly port: number;
  /** .proto files to serve (absolute, or relative to includeDirs). */
  readonly protoFiles: readonly string[];
  readonly includeDirs?: readonly string[];
  /** Every method of every service must be implemented: a gap is a boot error, not UNIMPLEMENTED at run time. */
  readonly services: readonly GrpcServiceRegistration[];
  readonly limits: GrpcServerLimits;
  /** Defaults to insecure (TLS terminates in front of the pod or on the mesh). */
  readonly credentials?: ServerCredentials;
  /** Health status right after binding, for '' (the whole server) and each service; default SERVING. */
  readonly initialStatus?: ServingStatus;
}

export interface RunningGrpcServer {
  readonly server: Server;
  readonly port: number;
  /** `host:port` as bound. */
  readonly address: string;
  /** Everything loaded, including grpc.health.v1 (what reflection serves). */
  readonly packageDefinition: PackageDefinition;
  /** Sets the health of one service name, or of '' and every registered service when omitted. */
  setServingStatus(status: ServingStatus, service?: string): void;
  /**
   * Graceful stop: reports NOT_SERVING, refuses new calls, lets in-flight ones finish for up to
   * `timeoutMs`, then cancels whatever remains. Resolves `graceful: false` when it had to force.
   */
  stop(timeoutMs: number): Promise<{ readonly graceful: boolean }>;
}

export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/**
 * A gRPC server on raw @grpc/grpc-js: the given protos and implementations, plus health checking
 * (grpc.health.v1.Health) and server reflection (v1 and v1alpha) over everything served. Wrap
 * each handler with `unary` / `serverStream` (grpc-call.handlers.ts) for context, error
 * mapping, deadlines and metrics.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const userDefinition = loadProtoFiles(options.protoFiles, options.includeDirs);
  const packageDefinition: PackageDefinition = { ...userDefinition, ...loadProtoFiles([healthProtoPath]) };
  const server = new Server(serverOptions(options.limits));

  const serviceNames: string[] = [];
  for (const registration of options.services) {
    const definition = serviceDefinition(userDefinition, registration.name);
    checkImplementation(registration, definition);
    server.addService(definition, registration.implementation);
    serviceNames.push(registration.name);
  }
  const initial = options.initialStatus ?? 'SERVING';
  const health = new HealthImplementation(Object.fromEntries(['', ...serviceNames].map((name) => [name, initial])));
  health.addToServer(server);
  new ReflectionService(packageDefinition).addToServer(server);

  const target = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, options.credentials ?? ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
  }).catch((error: unknown) => {
    server.forceShutdown();
    throw new Error(`gRPC server could not bind ${target}: ${(error as Error).message}`, { cause: error });
  });

  const setServingStatus = (status: ServingStatus, service?: string): void => {
    for (const name of service === undefined ? ['', ...serviceNames] : [service]) health.setStatus(name, status);
  };
  let stopping: Promise<{ graceful: boolean }> | undefined;
  return {
    server,
    port,
    address: `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    packageDefinition,
    setServingStatus,
    stop(timeoutMs) {
      stopping ??= stopServer(server, timeoutMs, () => setServingStatus('NOT_SERVING'));
      return stopping;
    },
  };
}

function serverOptions(limits: GrpcServerLimits): ChannelOptions {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`gRPC server limit ${name} must be a positive integer; got ${String(value)}`);
  }
  return {
    'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
    'grpc.max_send_message_length': limits.maxSendMessageBytes,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs,
  };
}

function serviceDefinition(definition: PackageDefinition, name: string): ServiceDefinition {
  const candidate = definition[name];
  if (!candidate || 'format' in candidate || 'fileDescriptorProtos' in candidate) {
    throw new Error(`gRPC service '${name}' is not defined in the loaded protos`);
  }
  return candidate as unknown as ServiceDefinition;
}

function checkImplementation(registration: GrpcServiceRegistration, definition: ServiceDefinition): void {
  const known = new Set<string>();
  const missing: string[] = [];
  for (const [method, attributes] of Object.entries(definition)) {
    const camel = (attributes as { originalName?: string }).originalName ?? method;
    known.add(method).add(camel);
    if (typeof registration.implementation[method] !== 'function' && typeof registration.implementation[camel] !== 'function') missing.push(method);
  }
  const unknown = Object.keys(registration.implementation).filter((key) => !known.has(key));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      `gRPC service '${registration.name}': ${[
        missing.length > 0 ? `missing handlers for ${missing.join(', ')}` : '',
        unknown.length > 0 ? `handlers for unknown methods ${unknown.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  }
}

async function stopServer(server: Server, timeoutMs: number, markNotServing: () => void): Promise<{ graceful: boolean }> {
  markNotServing();
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true))),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!graceful) server.forceShutdown();
  return { graceful };
}
