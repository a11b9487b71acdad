// The CPUs this process may really use, for ACTOR_POOL_SIZE's default (cores − 1, at least 1).
//
// os.availableParallelism() counts the CPUs of the affinity mask (cpuset), and on Node 24 (libuv
// 1.52) also a cgroup CPU quota, but only where libuv finds it: checked on this machine (cgroup v1
// and v2 mounted side by side, the usual Docker host), a process in a v1 cgroup with a quota of 0.5
// CPU still got 2. So the quota is read here too, from both layouts, and the smaller figure wins:
//   cgroup v2   <mount>/<path>/cpu.max               "<quota> <period>" or "max <period>"
//   cgroup v1   <mount>/<path>/cpu.cfs_quota_us      -1 (none) or the quota, per cpu.cfs_period_us
// <path> comes from /proc/self/cgroup; every level from it up to the mount is read (a limit on a
// parent holds for its children, and inside a container the mount's root is the container's own
// cgroup). A quota of 2.5 CPUs counts as 2, as libuv and Rust's available_parallelism count it.

import {readFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CpuSources {
  /** A file's text, or undefined when it cannot be read. */
  readonly read: (file: string) => string | undefined;
  /** CPUs of the affinity mask (os.availableParallelism()). */
  readonly parallelism: number;
}

const v2Mount = '/sys/fs/cgroup';
const v1Mounts = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpuacct,cpu'];

const systemSources = (): CpuSources => ({
  read: (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
  parallelism: os.availableParallelism(),
});

/** The cgroup's directory under `mount` and each of its parents up to `mount`, deepest first. */
function levels(mount: string, cgroupPath: string): string[] {
  const dirs: string[] = [];
  for (let p = path.posix.normalize(`/${cgroupPath}`); ; p = path.posix.dirname(p)) {
    dirs.push(path.posix.join(mount, p));
    if (p === '/') return dirs;
  }
}

/** The CPU quota in CPUs (fractional), or undefined when no cgroup sets one. */
export function cgroupCpuQuota(sources: Pick<CpuSources, 'read'>): number | undefined {
  const lines = (sources.read('/proc/self/cgroup') ?? '').split('\n');
  let quota = Number.POSITIVE_INFINITY;
  for (const line of lines) {
    const [, controllers, cgroupPath] = line.split(':', 3);
    if (cgroupPath === undefined) continue;
    if (controllers === '') {
      for (const dir of levels(v2Mount, cgroupPath)) {
        const [max, period] = (sources.read(path.posix.join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
        if (/^\d+$/.test(max) && Number(period) > 0) quota = Math.min(quota, Number(max) / Number(period));
      }
    } else if (controllers.split(',').includes('cpu')) {
      for (const mount of v1Mounts) {
        for (const dir of levels(mount, cgroupPath)) {
          const max = Number(sources.read(path.posix.join(dir, 'cpu.cfs_quota_us')));
          const period = Number(sources.read(path.posix.join(dir, 'cpu.cfs_period_us')));
          if (max > 0 && period > 0) quota = Math.min(quota, max / period);
        }
      }
    }
  }
  return Number.isFinite(quota) ? quota : undefined;
}

/** Whole CPUs this process may use: the affinity mask, capped by a cgroup quota; at least 1. */
export function effectiveCpus(sources: CpuSources = systemSources()): number {
  const quota = cgroupCpuQuota(sources);
  const cpus = quota === undefined ? sources.parallelism : Math.min(sources.parallelism, Math.floor(quota));
  return Math.max(1, cpus);
}

/** ACTOR_POOL_SIZE's default (DESIGN §6): cores − 1, at least 1, over the CPUs really usable. */
export function defaultPoolSize(sources?: CpuSources): number {
  return Math.max(1, effectiveCpus(sources) - 1);
}
