/**
 * The runtime posture checks as a table: one row per finding (stable id, severity, the escape
 * catalog cases it answers, the CIS Docker Benchmark / Pod Security Standards items it implements)
 * with a pure predicate over the facts the evaluator (posture.ts) prepared. Nothing here reads the
 * system; add a check by adding a row (and a failing row to test/unit/posture/posture.test.ts).
 */
import {
  ALLOWED_CHAR_DEVICES,
  CAP_SYS_ADMIN,
  CAP_SYS_PTRACE,
  capabilityNames,
  cgroupLimit,
  CIS,
  groupNames,
  hexMask,
  HOST_BACKED_FS,
  HOST_INIT_NAMES,
  HOST_NETNS_SOCKET_PATTERN,
  ids,
  need,
  parseProcCgroup,
  PostureCheck,
  PSEUDO_FS,
  PSS,
  rootMount,
  RUNTIME_NAME_PATTERN,
  RUNTIME_SOCKET_PATHS,
  secretEnvNames,
  SENSITIVE_HOST_PATHS,
  SERVICE_ACCOUNT_TOKEN_PATHS,
  SYSTEM_DIRS,
  tcpListeners,
  unixSocketNames,
  USER_RUNTIME_SOCKETS,
  within,
} from './posture-model';

const capCheck = (field: string, id: string, extraRefs: string[] = []): PostureCheck => ({
  id,
  severity: 'high',
  covers: ['RT-003'],
  references: [
    CIS('5.4', 'Restrict Linux kernel capabilities within containers'),
    CIS('5.5', 'Do not use privileged containers'),
    PSS('restricted', 'Capabilities (drop ALL; add only NET_BIND_SERVICE)'),
    ...extraRefs,
  ],
  evaluate: c => {
    const mask = need(hexMask(c.status.get(field)), `${field} in /proc/self/status`);
    const extra = mask & ~c.allowedCaps;
    return extra === 0n
      ? [true, `${field} ${c.status.get(field)}${mask ? ' (NET_BIND_SERVICE allowed)' : ''}`]
      : [false, `${field} ${c.status.get(field)}: ${capabilityNames(extra).join(',')}`];
  },
});

export const POSTURE_CHECKS: readonly PostureCheck[] = [
  {
    id: 'user-non-root',
    severity: 'high',
    covers: ['RT-001'],
    references: [
      CIS('4.1', 'Ensure that a user for the container has been created'),
      PSS('restricted', 'Running as Non-root'),
      PSS('restricted', 'Running as Non-root user (runAsUser != 0)'),
    ],
    evaluate: c => {
      const u = need(ids(c.status.get('Uid')), 'Uid in /proc/self/status');
      if (u.length !== 4) throw new Error('Uid line malformed');
      const bad = u.includes(0) || c.input.uid === 0;
      return [!bad, `uid ${c.input.uid}; real/effective/saved/fs ${u.join('/')}`];
    },
  },
  {
    id: 'group-non-root',
    severity: 'high',
    covers: ['RT-002'],
    references: [
      CIS('4.1', 'Ensure that a user for the container has been created'),
      PSS('restricted', 'Running as Non-root user (runAsGroup/supplementalGroups)'),
    ],
    evaluate: c => {
      const g = need(ids(c.status.get('Gid')), 'Gid in /proc/self/status');
      if (g.length !== 4) throw new Error('Gid line malformed');
      const groups = need(ids(c.status.get('Groups') ?? ''), 'Groups in /proc/self/status');
      const problems: string[] = [];
      if (g.includes(0) || c.input.gid === 0) problems.push(`gid ${c.input.gid}; real/effective/saved/fs ${g.join('/')}`);
      if (groups.includes(0)) problems.push('supplementary group 0');
      if (c.input.etcGroup !== undefined) {
        const names = groupNames(c.input.etcGroup);
        for (const id of [...groups, ...g]) {
          const n = names.get(id);
          if (n && /^(docker|podman|containerd|crio|kvm|disk|libvirt|lxd|wheel|sudo|adm|shadow)$/.test(n))
            problems.push(`member of group ${n} (${id})`);
        }
      }
      return problems.length === 0 ? [true, `gid ${c.input.gid}; groups [${groups.join(',')}]`] : [false, problems.join('; ')];
    },
  },
  capCheck('CapEff', 'caps-effective-empty'),
  capCheck('CapPrm', 'caps-permitted-empty'),
  capCheck('CapBnd', 'caps-bounding-empty'),
  capCheck('CapAmb', 'caps-ambient-empty'),
  capCheck('CapInh', 'caps-inheritable-empty'),
  {
    id: 'no-new-privs',
    severity: 'high',
    covers: ['RT-004'],
    references: [
      CIS('5.26', 'Ensure that the container is restricted from acquiring additional privileges'),
      PSS('restricted', 'Privilege Escalation (allowPrivilegeEscalation: false)'),
    ],
    evaluate: c => {
      const v = need(c.status.get('NoNewPrivs'), 'NoNewPrivs in /proc/self/status');
      return [v === '1', `NoNewPrivs ${v}`];
    },
  },
  {
    id: 'seccomp-filter',
    severity: 'high',
    covers: ['RT-005'],
    references: [
      CIS('5.22', 'Ensure that the default seccomp profile is not disabled'),
      PSS('restricted', 'Seccomp (RuntimeDefault or Localhost)'),
      PSS('baseline', 'Seccomp (not Unconfined)'),
    ],
    evaluate: c => {
      const mode = need(c.status.get('Seccomp'), 'Seccomp in /proc/self/status');
      const filters = c.status.get('Seccomp_filters');
      const nFilters = filters === undefined ? undefined : Number(filters);
      const ok = mode === '2' && (nFilters === undefined || nFilters >= 1);
      return [ok, `Seccomp ${mode}${filters === undefined ? '' : `, ${filters} filter(s)`}`];
    },
  },
  {
    id: 'rootfs-read-only',
    severity: 'high',
    covers: ['RT-006'],
    references: [CIS('5.13', "Mount container's root filesystem as read only"), 'Kubernetes securityContext readOnlyRootFilesystem: true'],
    evaluate: c => {
      const root = need(rootMount(c.mounts()), 'a mount at / in mountinfo');
      const ro = root.options.includes('ro') || root.superOptions.includes('ro');
      return [ro, `/ is ${root.fsType} mounted ${ro ? 'ro' : 'rw'} (${root.options.join(',')})`];
    },
  },
  {
    id: 'system-dirs-unwritable',
    severity: 'high',
    covers: ['RT-006'],
    references: [CIS('5.13', "Mount container's root filesystem as read only"), CIS('4.1', 'application files not writable by the runtime user')],
    evaluate: c => {
      const p = c.probe();
      const dirs = [...SYSTEM_DIRS, ...(c.input.cwd ? [c.input.cwd] : [])];
      const writable = [...new Set(dirs)].filter(d => p.entryType(d) === 'dir' && p.writable(d));
      return writable.length === 0
        ? [true, `none of ${dirs.length} system/application directories is writable`]
        : [false, `writable: ${writable.join(', ')}`];
    },
  },
  {
    id: 'runtime-socket-absent',
    severity: 'high',
    covers: ['RT-007'],
    references: [CIS('5.32', 'Ensure that the Docker socket is not mounted inside any containers'), PSS('baseline', 'HostPath Volumes')],
    evaluate: c => {
      const paths = [...RUNTIME_SOCKET_PATHS];
      for (const uid of new Set([c.input.uid, 0])) for (const s of USER_RUNTIME_SOCKETS) paths.push(`/run/user/${uid}/${s}`);
      const env = c.input.env ?? {};
      for (const name of ['DOCKER_HOST', 'CONTAINER_HOST', 'CONTAINERD_ADDRESS', 'BUILDKIT_HOST']) {
        const v = env[name];
        if (v && /^unix:\/\//.test(v)) paths.push(v.slice('unix://'.length));
      }
      for (const name of ['XDG_RUNTIME_DIR']) {
        const v = env[name];
        if (v && v.startsWith('/')) for (const s of USER_RUNTIME_SOCKETS) paths.push(`${v.replace(/\/$/, '')}/${s}`);
      }
      const found = paths.filter(p => c.input.exists(p));
      return found.length === 0 ? [true, `none of ${paths.length} known runtime socket paths exists`] : [false, `present: ${found.join(', ')}`];
    },
  },
  {
    id: 'runtime-socket-not-mounted',
    severity: 'high',
    covers: ['RT-008'],
    references: [CIS('5.32', 'Ensure that the Docker socket is not mounted inside any containers'), PSS('baseline', 'HostPath Volumes')],
    evaluate: c => {
      const hits = c.mounts().filter(m => RUNTIME_NAME_PATTERN.test(m.mountPoint) || RUNTIME_NAME_PATTERN.test(m.root));
      return hits.length === 0
        ? [true, 'no mount names a container runtime']
        : [false, `runtime mounts: ${hits.map(m => `${m.root} at ${m.mountPoint}`).join(', ')}`];
    },
  },
  {
    id: 'no-unix-sockets',
    severity: 'high',
    covers: ['RT-009', 'RT-007'],
    references: [CIS('5.32', 'Ensure that the Docker socket is not mounted inside any containers'), PSS('baseline', 'HostPath Volumes')],
    evaluate: c => {
      const fromScan = c.input.scan?.socketPaths ?? [];
      const given = c.input.socketPaths;
      if (given === undefined && c.input.scan === undefined) throw new Error('socket scan not available');
      const all = [...new Set([...(given ?? []), ...fromScan])].sort();
      if (all.length > 0) return [false, `unix sockets reachable: ${all.slice(0, 10).join(', ')}${all.length > 10 ? ` (+${all.length - 10})` : ''}`];
      if (c.input.scan && !c.input.scan.complete)
        return [false, `filesystem walk stopped at its budget after ${c.input.scan.visited} entries: socket scan incomplete`];
      return [true, `no unix socket file found${c.input.scan ? ` (${c.input.scan.visited} entries walked)` : ''}`];
    },
  },
  {
    id: 'network-namespace-private',
    severity: 'high',
    covers: ['RT-009', 'RT-021'],
    references: [CIS('5.10', 'Do not use host network mode on container'), PSS('baseline', 'Host Namespaces (hostNetwork: false)')],
    evaluate: c => {
      const text = need(c.input.netUnix, '/proc/net/unix');
      const names = unixSocketNames(text);
      const host = names.filter(n => HOST_NETNS_SOCKET_PATTERN.test(n));
      return host.length === 0
        ? [true, `${names.length} named unix socket(s) in this network namespace, none of a host service`]
        : [false, `host service sockets visible (host network namespace?): ${host.slice(0, 5).join(', ')}`];
    },
  },
  {
    // Advisory: a listening TCP socket that no visible process holds belongs to someone outside
    // this PID namespace sharing the network namespace: the host (hostNetwork) or a sidecar.
    id: 'foreign-listeners',
    severity: 'low',
    covers: ['RT-009'],
    references: [CIS('5.10', 'Do not use host network mode on container'), PSS('baseline', 'Host Namespaces (hostNetwork: false)')],
    evaluate: c => {
      const text = need(c.input.netTcp, '/proc/net/tcp');
      const own = new Set(need(c.input.ownSocketInodes, 'socket inodes of visible processes'));
      const foreign = tcpListeners(text).filter(l => !own.has(l.inode));
      return foreign.length === 0
        ? [true, 'every listening TCP socket belongs to a visible process']
        : [
            false,
            `listening TCP ports held outside this PID namespace (host network or sidecar): ${[...new Set(foreign.map(l => l.port))].slice(0, 10).join(', ')}`,
          ];
    },
  },
  {
    id: 'host-paths-not-mounted',
    severity: 'high',
    covers: ['RT-010'],
    references: [CIS('5.6', 'Do not mount sensitive host system directories on containers'), PSS('baseline', 'HostPath Volumes')],
    evaluate: c => {
      const hits: string[] = [];
      for (const m of c.mounts()) {
        // Pseudo filesystems (proc at /proc/sys, cgroup roots, ...) name paths inside themselves,
        // not on the host; procfs-protected and kernel-fs-read-only judge those.
        if (m.mountPoint === '/' || PSEUDO_FS.has(m.fsType)) continue;
        const root = m.root.replace(/\/+$/, '') || '/';
        if (root === '/' ? HOST_BACKED_FS.has(m.fsType) : SENSITIVE_HOST_PATHS.includes(root)) {
          hits.push(`${m.fsType}:${root} at ${m.mountPoint}`);
        }
      }
      return hits.length === 0 ? [true, 'no sensitive host directory is mounted'] : [false, `host paths mounted: ${hits.join(', ')}`];
    },
  },
  {
    id: 'kernel-fs-read-only',
    severity: 'high',
    covers: ['RT-011'],
    references: [
      CIS('5.5', 'Do not use privileged containers'),
      CIS('5.25', 'Ensure that cgroup usage is confirmed'),
      PSS('baseline', 'Privileged Containers'),
    ],
    evaluate: c => {
      const p = c.probe();
      const problems: string[] = [];
      for (const m of c.mounts()) {
        if (m.fsType === 'sysfs' || m.fsType === 'cgroup' || m.fsType === 'cgroup2') {
          if (!m.options.includes('ro')) problems.push(`${m.fsType} at ${m.mountPoint} is rw`);
          if (m.fsType === 'cgroup' && p.writable(`${m.mountPoint}/release_agent`)) problems.push(`${m.mountPoint}/release_agent writable`);
          if (m.fsType !== 'sysfs' && p.writable(m.mountPoint)) problems.push(`${m.mountPoint} writable`);
        }
      }
      if (p.writable('/sys/fs/cgroup')) problems.push('/sys/fs/cgroup writable');
      return problems.length === 0 ? [true, 'sysfs and cgroup filesystems are read-only or absent'] : [false, problems.join('; ')];
    },
  },
  {
    id: 'procfs-protected',
    severity: 'high',
    covers: ['RT-012'],
    references: [PSS('baseline', '/proc Mount Type (Default)'), CIS('5.5', 'Do not use privileged containers')],
    evaluate: c => {
      const p = c.probe();
      const problems: string[] = [];
      for (const f of ['/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', '/proc/sys/kernel/modprobe', '/proc/sys/vm/panic_on_oom']) {
        if (p.writable(f)) problems.push(`${f} writable`);
      }
      for (const m of c.mounts()) {
        if (m.fsType === 'proc' && !within(m.mountPoint, '/proc')) problems.push(`procfs mounted at ${m.mountPoint}`);
        if (m.fsType === 'sysfs' && !within(m.mountPoint, '/sys')) problems.push(`sysfs mounted at ${m.mountPoint}`);
      }
      return problems.length === 0 ? [true, 'kernel tunables under /proc are not writable'] : [false, problems.join('; ')];
    },
  },
  {
    id: 'userns-restricted',
    severity: 'high',
    covers: ['RT-013'],
    references: [
      CIS('5.22', 'Ensure that the default seccomp profile is not disabled'),
      CIS('5.31', "Ensure that the host's user namespaces are not shared"),
      PSS('restricted', 'Seccomp'),
      PSS('restricted', 'Capabilities'),
    ],
    // unshare(CLONE_NEWUSER|CLONE_NEWNS) + mount() need either unprivileged user namespaces or
    // CAP_SYS_ADMIN. Proven only by user.max_user_namespaces = 0. A seccomp filter is in force,
    // but its rules cannot be read from inside (podman's default profile ALLOWS unshare): that
    // is `unproven` (accept it when the deployment applies deploy/seccomp/hardened-mtls.json;
    // the escape suite's RT-013 attempts the syscalls).
    evaluate: c => {
      const maxNs = c.input.probe?.readText('/proc/sys/user/max_user_namespaces')?.trim();
      const bnd = need(c.capMask('CapBnd'), 'CapBnd');
      const eff = need(c.capMask('CapEff'), 'CapEff');
      const sysAdmin = ((bnd | eff) >> BigInt(CAP_SYS_ADMIN)) & 1n;
      if (sysAdmin) return [false, 'CAP_SYS_ADMIN is in the bounding/effective set'];
      if (maxNs === '0') return [true, 'user.max_user_namespaces = 0'];
      const seccomp = c.status.get('Seccomp') === '2';
      const nnp = c.status.get('NoNewPrivs') === '1';
      return seccomp && nnp
        ? [
            'unproven',
            `no CAP_SYS_ADMIN; a seccomp filter and no_new_privs are in force, but whether the filter denies unshare/clone(CLONE_NEWUSER) cannot be read from inside (max_user_namespaces ${maxNs ?? 'unknown'})`,
          ]
        : [false, `user namespaces available (max_user_namespaces ${maxNs ?? 'unknown'}) and no seccomp filter`];
    },
  },
  {
    id: 'ptrace-restricted',
    severity: 'high',
    covers: ['RT-014'],
    references: [PSS('baseline', 'Capabilities (no SYS_PTRACE)'), CIS('5.22', 'Ensure that the default seccomp profile is not disabled')],
    evaluate: c => {
      const bnd = need(c.capMask('CapBnd'), 'CapBnd');
      const eff = need(c.capMask('CapEff'), 'CapEff');
      if (((bnd | eff) >> BigInt(CAP_SYS_PTRACE)) & 1n) return [false, 'CAP_SYS_PTRACE is in the bounding/effective set'];
      const scope = c.input.probe?.readText('/proc/sys/kernel/yama/ptrace_scope')?.trim();
      const seccomp = c.status.get('Seccomp') === '2';
      // yama 2 (admin-only: CAP_SYS_PTRACE, absent) or 3 (no attach) proves it; a seccomp
      // filter may deny ptrace/process_vm_* but its rules cannot be read from inside.
      if (scope !== undefined && /^[23]$/.test(scope)) return [true, `no CAP_SYS_PTRACE; yama ptrace_scope ${scope}`];
      const detail = `no CAP_SYS_PTRACE; seccomp ${seccomp ? 'on' : 'off'}; yama ptrace_scope ${scope ?? 'n/a'}`;
      return seccomp ? ['unproven', `${detail}: whether the filter denies ptrace/process_vm_readv cannot be read from inside`] : [false, detail];
    },
  },
  {
    id: 'pid-namespace-private',
    severity: 'high',
    covers: ['RT-015'],
    references: [CIS('5.16', "Do not share the host's process namespace"), PSS('baseline', 'Host Namespaces (hostPID: false)')],
    // Heuristics (documented in README "Runtime posture"): in any non-initial PID namespace the
    // kernel threads are invisible, so pid 2 named "kthreadd" means the host's namespace; and a
    // pid 1 that is a host init system (systemd, init, ...) means the same.
    evaluate: c => {
      const p = c.probe();
      const pid2 = p.readText('/proc/2/comm')?.trim();
      const pid1 = p.readText('/proc/1/comm')?.trim();
      const signs: string[] = [];
      if (pid2 === 'kthreadd') signs.push('kernel thread kthreadd (pid 2) visible');
      if (pid1 !== undefined && HOST_INIT_NAMES.has(pid1)) signs.push(`pid 1 is ${pid1}`);
      const ppid = c.status.get('PPid');
      return signs.length === 0 ? [true, `pid 1 is ${pid1 ?? '?'}; ppid ${ppid ?? '?'}; no kernel threads visible`] : [false, signs.join('; ')];
    },
  },
  {
    id: 'pid-count',
    severity: 'low',
    covers: ['RT-015'],
    references: [CIS('5.3', 'Verify that containers are running only a single main process')],
    evaluate: c => {
      const pids = need(c.input.pids, 'the /proc pid list');
      return [pids.length <= c.maxProcs, `${pids.length} process(es) visible (advisory limit ${c.maxProcs})`];
    },
  },
  {
    id: 'service-account-token-absent',
    severity: 'high',
    covers: ['RT-016'],
    references: [
      'CIS Kubernetes Benchmark §5.1.6 Ensure that Service Account Tokens are only mounted where necessary',
      'Kubernetes automountServiceAccountToken: false',
    ],
    evaluate: c => {
      const found = SERVICE_ACCOUNT_TOKEN_PATHS.filter(p => c.input.exists(p));
      return found.length === 0 ? [true, 'no service-account token mounted'] : [false, `present: ${found.join(', ')}`];
    },
  },
  {
    id: 'no-host-devices',
    severity: 'high',
    covers: ['RT-017'],
    references: [CIS('5.18', 'Do not directly expose host devices to containers'), PSS('baseline', 'Privileged Containers')],
    evaluate: c => {
      const scan = need(c.input.scan, 'device scan');
      const bad = scan.devices.filter(d => d.type === 'block' || !ALLOWED_CHAR_DEVICES.test(d.path)).map(d => `${d.path} (${d.type})`);
      return bad.length === 0 ? [true, `${scan.devices.length} device node(s), all standard`] : [false, `devices: ${bad.slice(0, 10).join(', ')}`];
    },
  },
  {
    id: 'lsm-not-unconfined',
    severity: 'medium',
    covers: ['RT-018'],
    references: [
      CIS('5.2', 'Verify AppArmor profile, if applicable'),
      CIS('5.3', 'Verify SELinux security options, if applicable'),
      PSS('baseline', 'AppArmor'),
      PSS('baseline', 'SELinux'),
    ],
    evaluate: c => {
      const p = c.probe();
      const label = (p.readText('/proc/self/attr/apparmor/current') ?? p.readText('/proc/self/attr/current'))?.replace(/\0/g, '').trim();
      const apparmorOn = p.readText('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y';
      if (label === undefined || label === '') {
        return apparmorOn
          ? [false, 'AppArmor is enabled but the process label is unreadable']
          : [true, 'no LSM label on this kernel (AppArmor/SELinux not enabled)'];
      }
      if (/^unconfined\b/.test(label) || /:(unconfined_t|spc_t|kernel_t|initrc_t):/.test(label)) return [false, `LSM label ${label}`];
      return [true, `LSM label ${label}`];
    },
  },
  {
    id: 'no-setuid-binaries',
    severity: 'medium',
    covers: ['RT-019'],
    references: [CIS('4.8', 'Ensure setuid and setgid permissions are removed'), CIS('5.26', 'no-new-privileges')],
    evaluate: c => {
      const scan = need(c.input.scan, 'setuid scan');
      if (scan.setuidFiles.length > 0)
        return [
          false,
          `setuid/setgid files on suid-honouring mounts: ${scan.setuidFiles.slice(0, 10).join(', ')}${scan.setuidFiles.length > 10 ? ` (+${scan.setuidFiles.length - 10})` : ''}`,
        ];
      if (!scan.complete) return [false, `filesystem walk stopped at its budget after ${scan.visited} entries: setuid scan incomplete`];
      return [true, 'no setuid/setgid file on a mount that honours it'];
    },
  },
  {
    id: 'env-no-secrets',
    severity: 'medium',
    covers: ['RT-020'],
    references: [CIS('4.10', 'Ensure secrets are not stored in Dockerfiles'), 'Kubernetes: prefer Secret volumes over environment variables'],
    evaluate: c => {
      const env = need(c.input.env, 'the process environment');
      const names = secretEnvNames(Object.entries(env));
      for (const text of c.input.otherEnvirons ?? []) {
        const entries = text
          .split('\0')
          .filter(x => x.includes('='))
          .map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]);
        names.push(...secretEnvNames(entries).map(n => `${n} (another process)`));
      }
      return names.length === 0
        ? [true, 'no secret-looking variable in the environment']
        : [false, `secret-looking variables: ${[...new Set(names)].join(', ')}`];
    },
  },
  {
    id: 'route-localnet-off',
    severity: 'medium',
    covers: ['RT-021'],
    references: ['CVE-2020-8558 (net.ipv4.conf.all.route_localnet)', PSS('baseline', 'Sysctls (safe set only)')],
    evaluate: c => {
      const v = need(c.probe().readText('/proc/sys/net/ipv4/conf/all/route_localnet')?.trim(), 'net.ipv4.conf.all.route_localnet');
      return [v === '0', `route_localnet ${v}`];
    },
  },
  {
    id: 'cgroup-limits-set',
    severity: 'medium',
    covers: ['RT-022'],
    references: [
      CIS('5.11', 'Limit memory usage for container'),
      CIS('5.29', "Ensure that the container's PIDs cgroup limit is used"),
      'Kubernetes resources.limits',
    ],
    // A limit on an ancestor (the pod cgroup: kubelet podPidsLimit) bounds us too; ancestors
    // hidden by a cgroup namespace or a bind-mounted container cgroup make it `unproven`.
    evaluate: c => {
      const p = c.probe();
      const lines = parseProcCgroup(need(c.input.cgroup, '/proc/self/cgroup'));
      const parts: string[] = [];
      let verdict: boolean | 'unproven' = true;
      for (const ctl of ['memory', 'pids'] as const) {
        const l = cgroupLimit(p, c.mounts(), lines, ctl);
        if (l.status === 'limited') {
          parts.push(`${ctl} ${l.value} (${l.dir}${l.ancestor ? ', an ancestor cgroup' : ''})`);
        } else if (l.status === 'hidden') {
          if (verdict === true) verdict = 'unproven';
          parts.push(`${ctl} unlimited up to ${l.top}; the ancestors above it are not visible here (Kubernetes puts podPidsLimit on the pod cgroup)`);
        } else {
          verdict = false;
          parts.push(l.status === 'unlimited' ? `${ctl} unlimited up to the hierarchy root` : `${ctl} limit not visible`);
        }
      }
      return [verdict, parts.join('; ')];
    },
  },
  {
    id: 'writable-mounts-noexec',
    severity: 'medium',
    covers: ['RT-023'],
    references: [
      CIS('5.13', "Mount container's root filesystem as read only (writable paths on tmpfs noexec,nosuid,nodev)"),
      'Kubernetes emptyDir for /tmp',
    ],
    evaluate: c => {
      const p = c.probe();
      const bad: string[] = [];
      const writable: string[] = [];
      for (const m of c.mounts()) {
        if (PSEUDO_FS.has(m.fsType) || m.mountPoint === '/') continue;
        if (m.options.includes('ro')) continue;
        if (p.entryType(m.mountPoint) !== 'dir' || !p.writable(m.mountPoint)) continue;
        writable.push(m.mountPoint);
        const missing = ['noexec', 'nosuid', 'nodev'].filter(o => !m.options.includes(o));
        if (missing.length > 0) bad.push(`${m.mountPoint} (${m.fsType}) lacks ${missing.join(',')}`);
      }
      return bad.length === 0 ? [true, `writable mounts: ${writable.join(', ') || 'none'}; all noexec,nosuid,nodev`] : [false, bad.join('; ')];
    },
  },
];
