import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * An optional V8 CPU profile of this process over one phase (BENCH_CPU_PROFILE_DIR): in embedded
 * mode that is the ledger, the payouts service and the client together. Written as a
 * `.cpuprofile` (Chrome DevTools, speedscope) and summarised as the functions with the most
 * self time, grouped by source file.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface CpuProfileSummary {
  readonly file: string;
  readonly sampledMs: number;
  /** Self time by place, most first: `function (file:line)` or a file / package. */
  readonly topFunctions: ReadonlyArray<{ readonly name: string; readonly ms: number }>;
  readonly byArea: ReadonlyArray<{ readonly name: string; readonly ms: number }>;
}

const REPO_ROOT = resolve(__dirname, '..', '..');

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolvePost, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolvePost(result as T))));
}

export class PhaseProfiler {
  private readonly session = new Session();

  static async start(): Promise<PhaseProfiler> {
    const profiler = new PhaseProfiler();
    profiler.session.connect();
    await post(profiler.session, 'Profiler.enable');
    await post(profiler.session, 'Profiler.setSamplingInterval', { interval: 1_000 });
    await post(profiler.session, 'Profiler.start');
    return profiler;
  }

  async stop(dir: string, name: string): Promise<CpuProfileSummary> {
    const { profile } = await post<{ profile: Profile }>(this.session, 'Profiler.stop');
    this.session.disconnect();
    const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return summarise(profile, file);
  }
}

/** Where a source file belongs: a workspace folder (libs/x/y, services/x) or an npm package. */
function areaOf(url: string): string {
  if (url === '') return '(native / V8)';
  const path = url.startsWith('file://') ? url.slice(7) : url;
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = path.slice(modules + 'node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith('node:')) return path;
  const local = relative(REPO_ROOT, path);
  if (local.startsWith('..')) return path;
  const parts = local.split('/');
  return parts[0] === 'libs' ? parts.slice(0, 3).join('/') : parts.slice(0, 2).join('/');
}

function summarise(profile: Profile, file: string): CpuProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i += 1) {
    const id = samples[i]!;
    // A sample's weight is the time until the next one.
    const ms = (deltas[i + 1] ?? 0) / 1_000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + ms);
  }
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') continue;
    total += ms;
    const area = functionName === '(garbage collector)' ? '(garbage collector)' : areaOf(url);
    const name = `${functionName || '(anonymous)'} ${url ? `${relative(REPO_ROOT, url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : ''}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + ms);
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms }));
  return { file, sampledMs: total, topFunctions: top(functions, 25), byArea: top(areas, 20) };
}

/** The summary as report lines: self time by area on one line, then the top functions, each as a share of the sampled time. */
export function formatProfileSummary(profile: CpuProfileSummary, indent: string): string[] {
  const share = (ms: number, digits: number): string => `${((ms / profile.sampledMs) * 100).toFixed(digits)}%`;
  return [
    `${indent}self time by area: ${profile.byArea.map((area) => `${area.name} ${share(area.ms, 0)}`).join(', ')}`,
    `${indent}top functions by self time:`,
    ...profile.topFunctions.map((fn) => `${indent}  ${share(fn.ms, 1).padStart(6)}  ${fn.name}`),
  ];
}
