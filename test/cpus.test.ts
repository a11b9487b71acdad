import test from 'ava';
import {cgroupCpuQuota, defaultPoolSize, effectiveCpus} from '../src/cpus.ts';

/** A fake /proc and /sys: the files given, nothing else readable. */
const sources = (files: Record<string, string>, parallelism = 8) => ({
  read: (file: string) => files[file],
  parallelism,
});

test('without a cgroup quota the affinity mask decides: cores − 1, at least 1', (t) => {
  t.is(effectiveCpus(sources({'/proc/self/cgroup': '0::/\n'})), 8);
  t.is(defaultPoolSize(sources({'/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n'})), 7);
  t.is(defaultPoolSize(sources({}, 1)), 1, 'one CPU: still one actor thread');
  t.is(defaultPoolSize(sources({}, 2)), 1);
});

test('cgroup v2: cpu.max of the process cgroup, or of a parent, caps the CPUs (a fraction rounds down)', (t) => {
  const own = sources({
    '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
    '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '250000 100000\n',
  });
  t.is(cgroupCpuQuota(own), 2.5);
  t.is(effectiveCpus(own), 2);
  t.is(defaultPoolSize(own), 1);
  const parent = sources({
    '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
    '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000\n',
    '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000\n',
  });
  t.is(effectiveCpus(parent), 3);
  t.is(
    effectiveCpus(sources({'/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '50000 100000\n'})),
    1,
    'half a CPU: one',
  );
});

test('cgroup v1 (also beside a v2 mount, as on Docker hosts): cfs_quota_us / cfs_period_us, -1 = none', (t) => {
  const hybrid = '12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n';
  const own = sources({
    '/proc/self/cgroup': hybrid,
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '150000\n',
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
  });
  t.is(cgroupCpuQuota(own), 1.5);
  t.is(effectiveCpus(own), 1);
  // Inside the container the mount's root is the container's own cgroup.
  const root = sources({
    '/proc/self/cgroup': '1:cpu:/docker/abc\n0::/\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
  });
  t.is(effectiveCpus(root), 4);
  const none = sources({
    '/proc/self/cgroup': '1:cpu:/\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
  });
  t.is(cgroupCpuQuota(none), undefined);
  t.is(effectiveCpus(none), 8);
});

test('a quota above the affinity mask does not raise the count; unreadable or odd files are ignored', (t) => {
  t.is(effectiveCpus(sources({'/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '1600000 100000\n'}, 4)), 4);
  t.is(effectiveCpus(sources({'/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'garbage\n'})), 8);
  t.is(effectiveCpus(sources({'/proc/self/cgroup': 'not a cgroup line\n'})), 8);
  t.is(
    effectiveCpus(sources({'/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '0 100000\n'})),
    1,
    'a zero quota still leaves one',
  );
});
