import { cpus, platform, release, totalmem } from 'node:os';

export interface MachineInfo {
  readonly cpuCount: number;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  readonly nodeVersion: string;
  readonly platform: string;
}

export function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    cpuCount: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    nodeVersion: process.version,
    platform: `${platform()} ${release()}`,
  };
}
