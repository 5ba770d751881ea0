import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicksPerSecond: number | undefined;

// /proc reports CPU time in clock ticks; their length is a kernel setting, read once.
function ticksPerSecond(): number {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return clockTicksPerSecond;
}

/**
 * Returns the CPU time (user + system) a Linux process has used, in ms, from /proc/PID/stat.
 * The resolution is one clock tick (10 ms on most kernels), so measure over many messages.
 */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces, so split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: field 3 (state) is index 0, so utime (field 14) and stime (field 15) are 11, 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / ticksPerSecond();
}

/** Returns the resident set size of a Linux process in bytes, from VmRSS in /proc/PID/status. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status; is the process a zombie?`);
  return Number(match[1]) * 1024;
}

/** Samples the resident set size of processes at a fixed interval and keeps the maximum. */
export class ResidentSampler {
  readonly #pids: number[];
  readonly #timer: NodeJS.Timeout;
  #maxBytes = 0;
  samples = 0;

  constructor(pids: number[], intervalMs: number) {
    this.#pids = pids;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** Largest VmRSS seen in any one of the processes, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    return this.#maxBytes;
  }

  #sample(): void {
    for (const pid of this.#pids) {
      try {
        this.#maxBytes = Math.max(this.#maxBytes, residentBytes(pid));
      } catch {
        // The process has exited; the samples taken before stay.
      }
    }
    this.samples += 1;
  }
}
