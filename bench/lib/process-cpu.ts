import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process tree on Linux, from /proc: the process itself, the children it has
 * reaped (cutime/cstime), and its live children. For PostgreSQL's postmaster that is every
 * backend, including those that have exited since, once the postmaster has reaped them.
 * Resolution is one clock tick (usually 10 ms): meaningful over a whole cell, not per append.
 * Returns null where /proc is unavailable.
 */
export function processTreeCpuMs(pid: number): number | null {
  // A child reaped between reading the parent and listing the children would be counted in
  // neither place, so read until the parent's reaped-children total holds still across a pass.
  for (let attempt = 0; attempt < MAX_CONSISTENT_READ_ATTEMPTS; attempt++) {
    const before = readStat(pid);
    if (before === null) return null;
    let ticks = before.utime + before.stime + before.cutime + before.cstime;
    for (const entry of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(entry)) continue;
      const child = readStat(Number(entry));
      if (child !== null && child.ppid === pid) ticks += child.utime + child.stime;
    }
    const after = readStat(pid);
    if (after !== null && after.cutime === before.cutime && after.cstime === before.cstime) {
      return (ticks * 1_000) / clockTicksPerSecond();
    }
  }
  return null; // children kept exiting under us: better no figure than a wrong one
}

/** CPU time of this Node.js process (all threads), in milliseconds. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1_000;
}

const MAX_CONSISTENT_READ_ATTEMPTS = 20;

interface ProcStat {
  readonly ppid: number;
  readonly utime: number;
  readonly stime: number;
  readonly cutime: number;
  readonly cstime: number;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // not Linux, or the process just exited
  }
  // The command name is in parentheses and may itself contain spaces or ')': split after the last one.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (index: number): number => Number(fields[index]);
  return { ppid: field(1), utime: field(11), stime: field(12), cutime: field(13), cstime: field(14) };
}

let ticksPerSecond: number | undefined;

function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100; // the Linux default
    }
  }
  return ticksPerSecond;
}
