/**
 * assessPosture() on captured /proc texts: `sandbox-*` were captured inside the sandbox tier's
 * hardened bubblewrap runtime (uid 10001, no capabilities, no_new_privs, seccomp, read-only
 * root), `host-*` on a root shell of the build host. Each table row changes one fact of the
 * good posture and asserts exactly which finding ids fail (ids, never messages).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  assessPosture,
  cgroupDirs,
  COVERED_RUNTIME_CASES,
  EntryType,
  FilesystemScan,
  formatReport,
  isSecretEnvName,
  parseMountinfo,
  parseProcCgroup,
  PostureInput,
  PostureOptions,
  PostureProbe,
  tcpListeners,
  unixSocketNames,
} from '../../../src/posture/posture';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'unit', 'posture', 'fixtures');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

interface ProbeState {
  files: Record<string, string>;
  writable: Set<string>;
  types: Record<string, EntryType>;
}

/** A probe over an in-memory view: the good sandbox's answers unless a row changes them. */
function givenProbeState(): ProbeState {
  return {
    files: {
      '/proc/1/comm': 'bwrap\n',
      '/proc/sys/user/max_user_namespaces': '2147483647\n',
      '/proc/sys/net/ipv4/conf/all/route_localnet': '0\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n',
      '/sys/fs/cgroup/pids/pids.max': '512\n',
    },
    writable: new Set(['/tmp']),
    types: {'/tmp': 'dir', '/': 'dir', '/etc': 'dir', '/usr': 'dir', '/app': 'dir', '/dev': 'dir'},
  };
}

function probeOf(s: ProbeState): PostureProbe {
  return {
    readText: p => s.files[p],
    writable: p => s.writable.has(p),
    entryType: p => s.types[p] ?? 'missing',
  };
}

function givenScan(): FilesystemScan {
  return {
    socketPaths: [],
    setuidFiles: [],
    complete: true,
    visited: 20130,
    devices: ['null', 'zero', 'full', 'random', 'urandom', 'tty'].map(n => ({path: `/dev/${n}`, type: 'char' as const})),
  };
}

const NET_UNIX_EMPTY = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
const NET_TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

interface Given {
  input: PostureInput;
  probe: ProbeState;
  existing: Set<string>;
}

/** The compliant posture captured in the sandbox tier. */
function givenGoodPosture(): Given {
  const probe = givenProbeState();
  const existing = new Set<string>();
  const input: PostureInput = {
    status: fixture('sandbox-status.txt'),
    mountinfo: fixture('sandbox-mountinfo.txt'),
    uid: 10001,
    gid: 10001,
    exists: p => existing.has(p),
    socketPaths: [],
    env: {PATH: '/usr/bin:/bin', NODE_ENV: 'production', TLS_KEY_FILE: '/etc/tls/server.key', POSTURE_MODE: 'enforce'},
    probe: probeOf(probe),
    scan: givenScan(),
    netUnix: NET_UNIX_EMPTY,
    netTcp: NET_TCP_HEADER,
    ownSocketInodes: [],
    cgroup: fixture('sandbox-cgroup.txt'),
    pids: [1, 2],
    etcGroup: 'root:x:0:\nnonroot:x:10001:\n',
    otherEnvirons: [],
    cwd: '/app',
  };
  return {input, probe, existing};
}

function setStatus(g: Given, key: string, value: string): void {
  const re = new RegExp(`^${key}:.*$`, 'm');
  assert.ok(re.test(g.input.status), `fixture has ${key}`);
  g.input.status = g.input.status.replace(re, `${key}:\t${value}`);
}

function addMount(g: Given, line: string): void {
  g.input.mountinfo = g.input.mountinfo.trimEnd() + '\n' + line + '\n';
}

/**
 * The sandbox (like the image under the shipped profile) blocks user namespaces and ptrace by a
 * seccomp filter whose rules the process cannot read: those two are `unproven`, and the table
 * runs with the operator's acceptance (POSTURE_ACCEPT_UNPROVEN) unless a row says otherwise.
 */
const ACCEPT_SECCOMP: PostureOptions = {acceptUnproven: ['userns-restricted', 'ptrace-restricted']};

function failedIds(g: Given, opts: PostureOptions = ACCEPT_SECCOMP): string[] {
  return assessPosture(g.input, opts).failed.slice().sort();
}

interface Row {
  name: string;
  mutate: (g: Given) => void;
  failed: string[];
  opts?: PostureOptions;
  covers?: string;
}

const ROWS: Row[] = [
  {name: 'the captured hardened posture', mutate: () => undefined, failed: []},
  {
    name: 'uid 0 (RT-001)',
    covers: 'RT-001',
    mutate: g => {
      setStatus(g, 'Uid', '0\t0\t0\t0');
      g.input.uid = 0;
    },
    failed: ['user-non-root'],
  },
  {name: 'saved uid 0 only', mutate: g => setStatus(g, 'Uid', '10001\t10001\t0\t10001'), failed: ['user-non-root']},
  {
    name: 'gid 0 (RT-002)',
    covers: 'RT-002',
    mutate: g => {
      setStatus(g, 'Gid', '0\t0\t0\t0');
      g.input.gid = 0;
    },
    failed: ['group-non-root'],
  },
  {name: 'supplementary group 0', mutate: g => setStatus(g, 'Groups', '0 10001'), failed: ['group-non-root']},
  {
    name: 'member of the docker group',
    mutate: g => {
      setStatus(g, 'Groups', '998');
      g.input.etcGroup += 'docker:x:998:nonroot\n';
    },
    failed: ['group-non-root'],
  },
  {name: 'CapEff NET_RAW (RT-003)', covers: 'RT-003', mutate: g => setStatus(g, 'CapEff', '0000000000002000'), failed: ['caps-effective-empty']},
  {name: 'CapPrm NET_RAW', mutate: g => setStatus(g, 'CapPrm', '0000000000002000'), failed: ['caps-permitted-empty']},
  {name: 'CapAmb NET_RAW', mutate: g => setStatus(g, 'CapAmb', '0000000000002000'), failed: ['caps-ambient-empty']},
  {name: 'CapInh NET_RAW', mutate: g => setStatus(g, 'CapInh', '0000000000002000'), failed: ['caps-inheritable-empty']},
  {
    name: 'full bounding set',
    mutate: g => setStatus(g, 'CapBnd', '000001ffffffffff'),
    failed: ['caps-bounding-empty', 'ptrace-restricted', 'userns-restricted'],
  },
  {
    name: 'NET_BIND_SERVICE when not allowed',
    mutate: g => {
      setStatus(g, 'CapEff', '0000000000000400');
      setStatus(g, 'CapPrm', '0000000000000400');
      setStatus(g, 'CapBnd', '0000000000000400');
    },
    failed: ['caps-bounding-empty', 'caps-effective-empty', 'caps-permitted-empty'],
  },
  {
    name: 'NET_BIND_SERVICE when allowed',
    opts: {...ACCEPT_SECCOMP, allowNetBindService: true},
    mutate: g => {
      setStatus(g, 'CapEff', '0000000000000400');
      setStatus(g, 'CapPrm', '0000000000000400');
      setStatus(g, 'CapBnd', '0000000000000400');
    },
    failed: [],
  },
  {
    name: 'NET_BIND_SERVICE + NET_RAW when NET_BIND_SERVICE allowed',
    opts: {...ACCEPT_SECCOMP, allowNetBindService: true},
    mutate: g => setStatus(g, 'CapEff', '0000000000002400'),
    failed: ['caps-effective-empty'],
  },
  {name: 'unparseable CapEff', mutate: g => setStatus(g, 'CapEff', 'zz'), failed: ['caps-effective-empty', 'ptrace-restricted', 'userns-restricted']},
  {name: 'no_new_privs off (RT-004)', covers: 'RT-004', mutate: g => setStatus(g, 'NoNewPrivs', '0'), failed: ['no-new-privs', 'userns-restricted']},
  {
    name: 'seccomp off (RT-005)',
    covers: 'RT-005',
    mutate: g => {
      setStatus(g, 'Seccomp', '0');
      setStatus(g, 'Seccomp_filters', '0');
    },
    failed: ['ptrace-restricted', 'seccomp-filter', 'userns-restricted'],
  },
  {
    name: 'seccomp off, user namespaces disabled by sysctl',
    mutate: g => {
      setStatus(g, 'Seccomp', '0');
      g.probe.files['/proc/sys/user/max_user_namespaces'] = '0\n';
      g.probe.files['/proc/sys/kernel/yama/ptrace_scope'] = '3\n';
    },
    failed: ['seccomp-filter'],
  },
  {
    name: 'writable root filesystem (RT-006)',
    covers: 'RT-006',
    mutate: g => {
      g.input.mountinfo = g.input.mountinfo.replace('/newroot / ro,', '/newroot / rw,');
    },
    failed: ['rootfs-read-only'],
  },
  {name: 'writable /etc', mutate: g => g.probe.writable.add('/etc'), failed: ['system-dirs-unwritable']},
  {name: 'writable application directory', mutate: g => g.probe.writable.add('/app'), failed: ['system-dirs-unwritable']},
  {name: 'docker.sock present (RT-007)', covers: 'RT-007', mutate: g => g.existing.add('/var/run/docker.sock'), failed: ['runtime-socket-absent']},
  {name: 'rootless podman socket of this uid', mutate: g => g.existing.add('/run/user/10001/podman/podman.sock'), failed: ['runtime-socket-absent']},
  {
    name: 'DOCKER_HOST names a socket that exists',
    mutate: g => {
      g.input.env = {...g.input.env, DOCKER_HOST: 'unix:///srv/d.sock'};
      g.existing.add('/srv/d.sock');
    },
    failed: ['runtime-socket-absent'],
  },
  {
    name: 'runtime socket bind mount in mountinfo (RT-008)',
    covers: 'RT-008',
    mutate: g => addMount(g, '120 87 0:25 /docker.sock /var/run/docker.sock rw,nosuid,nodev - tmpfs tmpfs rw'),
    failed: ['runtime-socket-not-mounted'],
  },
  {
    name: 'containerd directory mounted',
    mutate: g => addMount(g, '121 87 0:25 /containerd /host/run/containerd rw,nosuid,nodev - tmpfs tmpfs rw'),
    failed: ['runtime-socket-not-mounted'],
  },
  {
    name: 'a unix socket at an unusual path (RT-009)',
    covers: 'RT-009',
    mutate: g => {
      g.input.socketPaths = ['/opt/data/cache.sock'];
    },
    failed: ['no-unix-sockets'],
  },
  {
    name: 'a socket found by the filesystem walk',
    mutate: g => {
      g.input.scan!.socketPaths = ['/tmp/x/agent.sock'];
    },
    failed: ['no-unix-sockets'],
  },
  {
    name: 'filesystem walk cut short',
    mutate: g => {
      g.input.scan!.complete = false;
    },
    failed: ['no-setuid-binaries', 'no-unix-sockets'],
  },
  {
    name: 'host service sockets in /proc/net/unix',
    mutate: g => {
      g.input.netUnix = NET_UNIX_EMPTY + '0000000000000000: 00000002 00000000 00010000 0001 01 20563 /run/containerd/containerd.sock\n';
    },
    failed: ['network-namespace-private'],
  },
  {
    name: 'abstract containerd-shim socket',
    mutate: g => {
      g.input.netUnix = NET_UNIX_EMPTY + '0000000000000000: 00000002 00000000 00010000 0001 01 20564 @/containerd-shim/k8s.io/abc/shim.sock@\n';
    },
    failed: ['network-namespace-private'],
  },
  {
    name: 'host /etc bind-mounted (RT-010)',
    covers: 'RT-010',
    mutate: g => addMount(g, '122 87 254:0 /etc /host-etc ro,nosuid,nodev - ext4 /dev/vda rw'),
    failed: ['host-paths-not-mounted'],
  },
  {
    name: 'host root filesystem mounted at /host',
    mutate: g => addMount(g, '123 87 254:0 / /host ro,nosuid,nodev - ext4 /dev/vda rw'),
    failed: ['host-paths-not-mounted'],
  },
  {
    name: 'host /var/lib/kubelet mounted',
    mutate: g => addMount(g, '124 87 254:0 /var/lib/kubelet /kubelet ro - ext4 /dev/vda rw'),
    failed: ['host-paths-not-mounted', 'runtime-socket-not-mounted'],
  },
  {
    name: 'cgroup filesystem mounted rw (RT-011)',
    covers: 'RT-011',
    mutate: g => {
      g.input.mountinfo = g.input.mountinfo.replace('/ /sys/fs/cgroup/memory ro,', '/ /sys/fs/cgroup/memory rw,');
    },
    failed: ['kernel-fs-read-only'],
  },
  {name: 'release_agent writable', mutate: g => g.probe.writable.add('/sys/fs/cgroup/memory/release_agent'), failed: ['kernel-fs-read-only']},
  {name: 'sysfs rw', mutate: g => addMount(g, '125 87 0:21 / /sys rw,nosuid,nodev,noexec - sysfs sysfs rw'), failed: ['kernel-fs-read-only']},
  {
    name: 'core_pattern writable (RT-012)',
    covers: 'RT-012',
    mutate: g => g.probe.writable.add('/proc/sys/kernel/core_pattern'),
    failed: ['procfs-protected'],
  },
  {name: 'sysrq-trigger writable', mutate: g => g.probe.writable.add('/proc/sysrq-trigger'), failed: ['procfs-protected']},
  {
    name: 'host procfs at /host/proc',
    mutate: g => addMount(g, '126 87 0:20 / /host/proc rw,nosuid,nodev,noexec - proc proc rw'),
    failed: ['procfs-protected'],
  },
  {
    name: 'CAP_SYS_ADMIN in the bounding set (RT-013)',
    covers: 'RT-013',
    mutate: g => setStatus(g, 'CapBnd', '0000000000200000'),
    failed: ['caps-bounding-empty', 'userns-restricted'],
  },
  {
    name: 'CAP_SYS_PTRACE in the bounding set (RT-014)',
    covers: 'RT-014',
    mutate: g => setStatus(g, 'CapBnd', '0000000000080000'),
    failed: ['caps-bounding-empty', 'ptrace-restricted'],
  },
  {
    name: 'kthreadd visible: host PID namespace (RT-015)',
    covers: 'RT-015',
    mutate: g => {
      g.probe.files['/proc/2/comm'] = 'kthreadd\n';
    },
    failed: ['pid-namespace-private'],
  },
  {
    name: 'pid 1 is systemd',
    mutate: g => {
      g.probe.files['/proc/1/comm'] = 'systemd\n';
    },
    failed: ['pid-namespace-private'],
  },
  {
    name: 'many processes visible is advisory only',
    mutate: g => {
      g.input.pids = Array.from({length: 300}, (_v, i) => i + 1);
    },
    failed: [],
  },
  {
    name: 'service-account token mounted (RT-016)',
    covers: 'RT-016',
    mutate: g => g.existing.add('/var/run/secrets/kubernetes.io/serviceaccount/token'),
    failed: ['service-account-token-absent'],
  },
  {
    name: 'token under /run/secrets',
    mutate: g => g.existing.add('/run/secrets/kubernetes.io/serviceaccount/token'),
    failed: ['service-account-token-absent'],
  },
  {
    name: 'block device (RT-017)',
    covers: 'RT-017',
    mutate: g => g.input.scan!.devices.push({path: '/dev/vda', type: 'block'}),
    failed: ['no-host-devices'],
  },
  {name: '/dev/mem', mutate: g => g.input.scan!.devices.push({path: '/dev/mem', type: 'char'}), failed: ['no-host-devices']},
  {
    name: 'AppArmor unconfined (RT-018)',
    covers: 'RT-018',
    mutate: g => {
      g.probe.files['/proc/self/attr/current'] = 'unconfined\n';
      g.probe.files['/sys/module/apparmor/parameters/enabled'] = 'Y\n';
    },
    failed: ['lsm-not-unconfined'],
  },
  {
    name: 'AppArmor confined',
    mutate: g => {
      g.probe.files['/proc/self/attr/current'] = 'docker-default (enforce)\n';
      g.probe.files['/sys/module/apparmor/parameters/enabled'] = 'Y\n';
    },
    failed: [],
  },
  {
    name: 'SELinux spc_t',
    mutate: g => {
      g.probe.files['/proc/self/attr/current'] = 'system_u:system_r:spc_t:s0\0';
    },
    failed: ['lsm-not-unconfined'],
  },
  {
    name: 'setuid binary (RT-019)',
    covers: 'RT-019',
    mutate: g => {
      g.input.scan!.setuidFiles = ['/usr/bin/su'];
    },
    failed: ['no-setuid-binaries'],
  },
  {
    name: 'secret in the environment (RT-020)',
    covers: 'RT-020',
    mutate: g => {
      g.input.env = {...g.input.env, DB_PASSWORD: 'x'};
    },
    failed: ['env-no-secrets'],
  },
  {
    name: 'secret in another process environment',
    mutate: g => {
      g.input.otherEnvirons = ['PATH=/bin\0API_KEY=abc\0'];
    },
    failed: ['env-no-secrets'],
  },
  {
    name: 'route_localnet on (RT-021)',
    covers: 'RT-021',
    mutate: g => {
      g.probe.files['/proc/sys/net/ipv4/conf/all/route_localnet'] = '1\n';
    },
    failed: ['route-localnet-off'],
  },
  {
    name: 'no memory limit (RT-022)',
    covers: 'RT-022',
    mutate: g => {
      g.probe.files['/sys/fs/cgroup/memory/memory.limit_in_bytes'] = '9223372036854771712\n';
    },
    failed: ['cgroup-limits-set'],
  },
  {
    name: 'pids limit not visible',
    mutate: g => {
      delete g.probe.files['/sys/fs/cgroup/pids/pids.max'];
    },
    failed: ['cgroup-limits-set'],
  },
  {
    name: '/tmp without noexec (RT-023)',
    covers: 'RT-023',
    mutate: g => {
      g.input.mountinfo = g.input.mountinfo.replace('/ /tmp rw,nosuid,nodev,noexec,', '/ /tmp rw,nosuid,nodev,');
    },
    failed: ['writable-mounts-noexec'],
  },
  {
    name: 'a foreign TCP listener is advisory only',
    mutate: g => {
      g.input.netTcp =
        NET_TCP_HEADER +
        '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1145 1 0000000012b66864 100 0 0 10 0\n';
    },
    failed: [],
  },
  // fail closed
  {
    name: 'no probe at all',
    mutate: g => {
      delete g.input.probe;
    },
    failed: [
      'cgroup-limits-set',
      'kernel-fs-read-only',
      'lsm-not-unconfined',
      'pid-namespace-private',
      'procfs-protected',
      'route-localnet-off',
      'system-dirs-unwritable',
      'writable-mounts-noexec',
    ],
  },
  {
    name: 'no filesystem scan',
    mutate: g => {
      delete g.input.scan;
      delete g.input.socketPaths;
    },
    failed: ['no-host-devices', 'no-setuid-binaries', 'no-unix-sockets'],
  },
  {
    name: 'garbage mountinfo',
    mutate: g => {
      g.input.mountinfo = 'not a mountinfo';
    },
    failed: [
      'cgroup-limits-set',
      'host-paths-not-mounted',
      'kernel-fs-read-only',
      'procfs-protected',
      'rootfs-read-only',
      'runtime-socket-not-mounted',
      'writable-mounts-noexec',
    ],
  },
  {
    name: 'empty status',
    mutate: g => {
      g.input.status = '';
    },
    failed: [
      'caps-ambient-empty',
      'caps-bounding-empty',
      'caps-effective-empty',
      'caps-inheritable-empty',
      'caps-permitted-empty',
      'group-non-root',
      'no-new-privs',
      'ptrace-restricted',
      'seccomp-filter',
      'user-non-root',
      'userns-restricted',
    ],
  },
  {
    name: 'no /proc/net/unix',
    mutate: g => {
      delete g.input.netUnix;
    },
    failed: ['network-namespace-private'],
  },
  {
    name: 'no environment',
    mutate: g => {
      delete g.input.env;
    },
    failed: ['env-no-secrets'],
  },
  {
    name: 'seccomp filter present, nothing accepted: user namespaces and ptrace unproven (RT-013, RT-014)',
    opts: {},
    mutate: () => undefined,
    failed: ['ptrace-restricted', 'userns-restricted'],
  },
  {
    name: 'seccomp filter, user namespaces disabled by sysctl and yama 2: proven',
    opts: {},
    mutate: g => {
      g.probe.files['/proc/sys/user/max_user_namespaces'] = '0\n';
      g.probe.files['/proc/sys/kernel/yama/ptrace_scope'] = '2\n';
    },
    failed: [],
  },
  {
    name: 'yama ptrace_scope 1 does not prove ptrace is restricted',
    opts: {acceptUnproven: ['userns-restricted']},
    mutate: g => {
      g.probe.files['/proc/sys/kernel/yama/ptrace_scope'] = '1\n';
    },
    failed: ['ptrace-restricted'],
  },
  {
    name: 'accepting a check that is never unproven',
    opts: {acceptUnproven: [...ACCEPT_SECCOMP.acceptUnproven!, 'no-new-privs']},
    mutate: () => undefined,
    failed: ['posture-options'],
  },
];

describe('posture: assessPosture on captured /proc fixtures (unit)', () => {
  for (const row of ROWS) {
    it(`${row.name} => ${row.failed.length === 0 ? 'compliant' : row.failed.join(', ')}`, () => {
      const g = givenGoodPosture();
      row.mutate(g);
      const report = assessPosture(g.input, row.opts ?? ACCEPT_SECCOMP);
      assert.deepEqual(report.failed.slice().sort(), row.failed.slice().sort());
      assert.equal(report.compliant, row.failed.length === 0);
    });
  }

  it('reports every finding with an id, severity, references and covered catalog cases', () => {
    const report = assessPosture(givenGoodPosture().input, ACCEPT_SECCOMP);
    const ids = report.findings.map(f => f.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
    assert.deepEqual(report.unproven.slice().sort(), ['ptrace-restricted', 'userns-restricted']);
    for (const f of report.findings) {
      assert.equal(f.ok, f.status === 'pass');
      assert.ok(f.ok || (f.status === 'unproven' && f.accepted), `${f.id} ok (or accepted unproven) on the good posture: ${f.detail}`);
      assert.ok(f.references.length > 0, `${f.id} has references`);
      assert.ok(
        f.references.some(r => /CIS|Pod Security Standards|CVE-|Kubernetes/.test(r)),
        `${f.id} cites CIS/PSS`,
      );
      assert.ok(
        f.covers.every(c => /^RT-\d{3}$/.test(c)),
        `${f.id} covers RT ids`,
      );
    }
  });

  it('covers every runtime case of the escape catalog (RT-001 .. RT-023), each with a failing table row', () => {
    const report = assessPosture(givenGoodPosture().input);
    const covered = new Set(report.findings.flatMap(f => f.covers));
    assert.deepEqual([...covered].sort(), [...COVERED_RUNTIME_CASES].sort());
    const rowCovers = new Set(ROWS.filter(r => r.covers).map(r => r.covers));
    assert.deepEqual([...rowCovers].sort(), [...COVERED_RUNTIME_CASES].sort());
  });

  it('the catalog, where present, lists exactly the runtime cases covered', () => {
    const candidates = [
      process.env.ESCAPE_CATALOG,
      path.resolve(FIXTURES, '..', '..', '..', '..', '..', 'shared', 'escape-reference', 'catalog.json'),
      '/work/shared/escape-reference/catalog.json',
    ].filter((p): p is string => !!p && fs.existsSync(p));
    // The catalog lives in the project's shared/ folder beside the clone; the constant is the contract.
    for (const c of candidates.slice(0, 1)) {
      const cases = JSON.parse(fs.readFileSync(c, 'utf8')) as {id: string; vector: string}[];
      const runtime = cases
        .filter(x => x.vector === 'runtime')
        .map(x => x.id)
        .sort();
      assert.deepEqual(runtime, [...COVERED_RUNTIME_CASES].sort());
    }
    assert.equal(COVERED_RUNTIME_CASES.length, 23);
  });

  it('the captured view of a podman container run with the compose flags is compliant', () => {
    const g = givenGoodPosture();
    g.input.mountinfo = fixture('podman-mountinfo.txt');
    g.input.cgroup = fixture('podman-cgroup.txt');
    g.probe.files = {
      ...g.probe.files,
      '/proc/1/comm': 'node\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n',
      '/sys/fs/cgroup/pids/pids.max': '256\n',
    };
    g.probe.writable = new Set(['/tmp', '/dev/shm']);
    g.probe.types = {...g.probe.types, '/dev/shm': 'dir', '/proc/keys': 'char', '/proc/timer_list': 'char'};
    assert.deepEqual(failedIds(g), []);
    // and the same container with a writable /dev/shm lacking noexec is not
    g.input.mountinfo = g.input.mountinfo.replace('/ /dev/shm rw,nosuid,nodev,noexec,', '/ /dev/shm rw,nosuid,nodev,');
    assert.deepEqual(failedIds(g), ['writable-mounts-noexec']);
  });

  it('cgroup-limits-set: a container cgroup without a pids limit under hidden ancestors is unproven, accepted only by id', () => {
    const g = givenGoodPosture();
    g.input.mountinfo = fixture('podman-mountinfo.txt');
    g.input.cgroup = fixture('podman-cgroup.txt');
    g.probe.files = {
      ...g.probe.files,
      '/proc/1/comm': 'node\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n',
      '/sys/fs/cgroup/pids/pids.max': 'max\n',
    };
    g.probe.types = {...g.probe.types, '/dev/shm': 'dir'};
    const report = assessPosture(g.input, ACCEPT_SECCOMP);
    const f = report.findings.find(x => x.id === 'cgroup-limits-set')!;
    assert.equal(f.status, 'unproven');
    assert.match(f.detail, /pids unlimited up to \/sys\/fs\/cgroup\/pids; the ancestors above it are not visible/);
    assert.deepEqual(report.failed, ['cgroup-limits-set']);
    assert.deepEqual(failedIds(g, {acceptUnproven: [...ACCEPT_SECCOMP.acceptUnproven!, 'cgroup-limits-set']}), []);
    // a memory limit missing altogether is not excused by accepting the unproven pids limit
    delete g.probe.files['/sys/fs/cgroup/memory/memory.limit_in_bytes'];
    assert.deepEqual(failedIds(g, {acceptUnproven: [...ACCEPT_SECCOMP.acceptUnproven!, 'cgroup-limits-set']}), ['cgroup-limits-set']);
  });

  it('the captured root shell of the build host is not compliant', () => {
    const g = givenGoodPosture();
    g.input.status = fixture('host-root-status.txt');
    g.input.mountinfo = fixture('host-mountinfo.txt');
    g.input.cgroup = fixture('host-cgroup.txt');
    g.input.uid = 0;
    g.input.gid = 0;
    g.probe.files['/proc/2/comm'] = 'kthreadd\n';
    const failed = failedIds(g);
    for (const id of [
      'user-non-root',
      'group-non-root',
      'caps-effective-empty',
      'caps-permitted-empty',
      'caps-bounding-empty',
      'no-new-privs',
      'seccomp-filter',
      'rootfs-read-only',
      'host-paths-not-mounted',
      'kernel-fs-read-only',
      'userns-restricted',
      'ptrace-restricted',
      'pid-namespace-private',
    ]) {
      assert.ok(failed.includes(id), `host fails ${id}`);
    }
  });

  it('formats a text report naming the failed ids', () => {
    const g = givenGoodPosture();
    setStatus(g, 'NoNewPrivs', '0');
    const text = formatReport(assessPosture(g.input, ACCEPT_SECCOMP));
    assert.match(text, /NON-COMPLIANT \(failed: no-new-privs, userns-restricted\)/);
    assert.match(text, /\[FAIL\] no-new-privs/);
    assert.match(formatReport(assessPosture(givenGoodPosture().input, {})), /\[UNPR\] userns-restricted/);
  });
});

describe('posture: parsers', () => {
  it('parses mountinfo with escaped paths and optional fields', () => {
    const m = parseMountinfo('36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n');
    assert.equal(m[0].mountPoint, '/mnt two');
    assert.equal(m[0].root, '/mnt1');
    assert.equal(m[0].fsType, 'ext3');
    assert.deepEqual(m[0].options, ['rw', 'noatime']);
  });

  it('rejects malformed mountinfo (callers fail closed)', () => {
    assert.throws(() => parseMountinfo('garbage'));
    assert.throws(() => parseMountinfo(''));
  });

  it('maps cgroup v1 paths through the mount root (container view and host view)', () => {
    const container = parseMountinfo(
      '1 0 0:1 / / ro - overlay overlay rw\n2 1 0:31 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n',
    );
    assert.deepEqual(cgroupDirs(container, parseProcCgroup('4:memory:/docker/abc\n0::/\n'), 'memory'), ['/sys/fs/cgroup/memory']);
    const host = parseMountinfo(fixture('host-mountinfo.txt'));
    assert.deepEqual(cgroupDirs(host, parseProcCgroup(fixture('host-cgroup.txt')), 'memory').slice(0, 2), [
      '/sys/fs/cgroup/memory/process_api/b62adf299718966d2edd9514f73a7706',
      '/sys/fs/cgroup/memory/process_api',
    ]);
  });

  it('maps cgroup v2 paths', () => {
    const m = parseMountinfo('1 0 0:1 / / ro - overlay overlay rw\n2 1 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n');
    assert.deepEqual(cgroupDirs(m, parseProcCgroup('0::/pod/ctr\n'), 'pids'), ['/sys/fs/cgroup/pod/ctr', '/sys/fs/cgroup/pod', '/sys/fs/cgroup']);
  });

  it('reads unix socket names and TCP listeners', () => {
    assert.deepEqual(
      unixSocketNames(
        NET_UNIX_EMPTY +
          '0000000000000000: 00000002 00000000 00010000 0001 01 20563 /run/a.sock\n0000000000000000: 00000003 00000000 00000000 0001 03 1141\n',
      ),
      ['/run/a.sock'],
    );
    const l = tcpListeners(
      NET_TCP_HEADER +
        '   0: 00000000:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 777 1 0 100 0 0 10 0\n   1: 0100007F:B3E3 0100007F:BD28 06 00000000:00000000 03:00000CF2 00000000     0        0 0 3 0\n',
    );
    assert.deepEqual(l, [{port: 8443, inode: 777}]);
  });

  const SECRET_NAMES: [string, boolean][] = [
    ['DB_PASSWORD', true],
    ['GITHUB_TOKEN', true],
    ['AWS_SECRET_ACCESS_KEY', true],
    ['API_KEY', true],
    ['apiKey', true],
    ['TLS_KEY_FILE', false],
    ['HEALTHCHECK_KEY_FILE', false],
    ['TOX_TESTENV_PASSENV', false],
    ['PWD', false],
    ['KEYBOARD', false],
    ['MTLS_ALLOWED_SUBJECTS', false],
    ['NODE_ENV', false],
  ];
  for (const [name, secret] of SECRET_NAMES) {
    it(`environment name ${name} is ${secret ? '' : 'not '}secret-looking`, () => assert.equal(isSecretEnvName(name), secret));
  }
});
