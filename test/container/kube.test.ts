/**
 * Container tier: deploy/kubernetes/deployment.yaml under `podman kube play` (podman + runc), with
 * POSTURE_MODE=enforce, must start, pass its posture check and answer mTLS. Workarounds for what
 * podman's kube play (4.x) does not do like a kubelet, each applied to a copy of the manifest and
 * nothing else:
 *  - the image is the run's own build (nothing builds `localhost/hardened-mtls:0.1.0` here; in a
 *    cluster kustomize's `images:` pins the digest);
 *  - the two Secret volumes become read-only hostPath volumes of the test's throw-away PKI (kube
 *    play resolves Secret volumes only against podman's own secret store);
 *  - the Localhost seccomp profile is found through `--seccomp-profile-root` (a temp directory
 *    holding deploy/seccomp/hardened-mtls.json as hardened-mtls/hardened-mtls.json), the
 *    kubelet's /var/lib/kubelet/seccomp on a node; podman 4 ignores `securityContext.seccompProfile`
 *    and reads only the legacy pod annotation `seccomp.security.alpha.kubernetes.io/pod` (of which
 *    it keeps only the first path element: `localhost/hardened-mtls.json`), so the copy carries both
 *    (the test proves the profile is in force by the syscall probe's errnos);
 *  - the static syscall probe is added as one more read-only hostPath mount (never in the image);
 *  - `--network` is the test's own `--internal` network (never the default bridge);
 *  - `ports` is removed and `replicas` set to 1: kube play publishes each containerPort on the
 *    host's 0.0.0.0 (a kubelet never does) and starts every replica on this one host, where they
 *    collide on that port;
 *  - topology spread and hostUsers are dropped, ephemeral storage is ignored (no pod user
 *    namespace in podman 4).
 * What the posture check cannot see in a pod (no pids limit is set on the container; the pod's
 * limit would be the kubelet's podPidsLimit) it reports `unproven`, accepted by the Deployment's
 * POSTURE_ACCEPT_UNPROVEN: the test asserts exactly that, and that everything else passed.
 */
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {givenPki, Pki} from '../integration/sandbox/pki-fixture';
import {REPO_ROOT} from './compose';
import {givenBuiltImage, givenWorkDir} from './image-fixture';
import {Podman, RunResult} from './podman';
import {syscallBlocked, SYSCALL_PROBE_PATH, SyscallAttempt} from '../../src/escape/runtime';

function runHost(cmd: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', code => {
      clearTimeout(timer);
      resolve({code, stdout, stderr});
    });
  });
}

describe('container tier: the Kubernetes Deployment under podman kube play, posture enforce (container)', function () {
  this.timeout(30 * 60_000);
  let podman: Podman;
  let work: string;
  let pki: Pki;
  let manifest = '';
  let network = '';
  const created = {network: false, pod: false};
  let logs = '';
  let ctr = '';

  before(async () => {
    const image = await givenBuiltImage();
    podman = image.podman;
    work = givenWorkDir(image, 'kube');
    network = `hmtls-kube-net-${image.runId}`;

    pki = givenPki();
    const tlsDir = path.join(work, 'tls');
    const healthDir = path.join(work, 'health');
    for (const d of [tlsDir, healthDir]) fs.mkdirSync(d, {mode: 0o755});
    // what the Secrets would project (defaultMode 0440, group fsGroup 10001)
    const put = (src: string, dst: string) => {
      fs.copyFileSync(src, dst);
      fs.chownSync(dst, 0, 10001);
      fs.chmodSync(dst, 0o440);
    };
    put(pki.serverCert, path.join(tlsDir, 'server.crt'));
    put(pki.serverKey, path.join(tlsDir, 'server.key'));
    put(pki.caCert, path.join(tlsDir, 'ca-bundle.crt'));
    put(pki.crl, path.join(tlsDir, 'ca.crl'));
    put(pki.clientCert, path.join(healthDir, 'client.crt'));
    put(pki.clientKey, path.join(healthDir, 'client.key'));

    const seccompRoot = path.join(work, 'seccomp');
    fs.mkdirSync(path.join(seccompRoot, 'hardened-mtls'), {recursive: true, mode: 0o755});
    fs.copyFileSync(path.join(REPO_ROOT, 'deploy', 'seccomp', 'hardened-mtls.json'), path.join(seccompRoot, 'hardened-mtls', 'hardened-mtls.json'));
    fs.copyFileSync(path.join(REPO_ROOT, 'deploy', 'seccomp', 'hardened-mtls.json'), path.join(seccompRoot, 'hardened-mtls.json'));

    const dep = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8'));
    const spec = dep.spec.template.spec;
    const c = spec.containers[0];
    assert.equal(spec.securityContext.seccompProfile.type, 'Localhost');
    c.image = image.names.app;
    c.imagePullPolicy = 'Never';
    const env = c.env as {name: string; value: string}[];
    env.find(e => e.name === 'MTLS_ALLOWED_SUBJECTS')!.value = `uri:${pki.clientUri}`;
    env.find(e => e.name === 'HEALTHCHECK_SERVERNAME')!.value = 'localhost';
    spec.volumes = [
      {name: 'tls', hostPath: {path: tlsDir, type: 'Directory'}},
      {name: 'health-client', hostPath: {path: healthDir, type: 'Directory'}},
    ];
    dep.spec.template.metadata.annotations = {
      ...(dep.spec.template.metadata.annotations ?? {}),
      // podman 4 keeps only the first path element after `localhost/`: the file sits at the root too
      'seccomp.security.alpha.kubernetes.io/pod': `localhost/${path.basename(spec.securityContext.seccompProfile.localhostProfile)}`,
    };
    spec.volumes.push({name: 'escape-probe', hostPath: {path: path.dirname(image.syscallProbe), type: 'Directory'}});
    c.volumeMounts.push({name: 'escape-probe', mountPath: path.dirname(SYSCALL_PROBE_PATH), readOnly: true});
    delete spec.hostUsers;
    delete spec.topologySpreadConstraints;
    // podman kube play publishes every containerPort on the host (0.0.0.0; a kubelet never does)
    // and starts `replicas` pods on one host, which then collide on that port
    delete c.ports;
    dep.spec.replicas = 1;
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
      if (probe?.tcpSocket?.port === 'https') probe.tcpSocket.port = 8443; // the named port went with `ports`
    }
    dep.metadata.name = `hmtls-kube-${image.runId}`;
    manifest = path.join(work, 'deployment.yaml');
    fs.writeFileSync(manifest, YAML.stringify(dep));

    await podman.ok(['network', 'create', '--internal', '--disable-dns', network]);
    created.network = true;
    created.pod = true;
    await podman.ok(['kube', 'play', '--network', network, '--seccomp-profile-root', seccompRoot, manifest], {timeoutMs: 300_000});

    ctr = `${dep.metadata.name}-pod-0-hardened-mtls`;
    const names = (await podman.ok(['ps', '--all', '--format', '{{.Names}}'])).split('\n').map(s => s.trim());
    ctr = names.find(n => n.startsWith(`${dep.metadata.name}-pod`) && n.endsWith('-hardened-mtls')) ?? ctr;
    for (let i = 0; ; i++) {
      const r = await podman.run(['logs', ctr]);
      logs = r.stdout + r.stderr;
      if (/"event":"listening"/.test(logs)) break;
      const st = (await podman.run(['inspect', '--format', '{{.State.Status}}', ctr])).stdout.trim();
      if ((st !== 'running' && st !== 'created' && st !== 'configured') || i >= 120)
        throw new Error(`pod container ${ctr} ${st}: ${logs.slice(-4000)}`);
      await new Promise(r2 => setTimeout(r2, 500));
    }
  });

  after(async () => {
    if (!podman) return;
    if (created.pod && manifest) await podman.run(['kube', 'down', manifest], {timeoutMs: 120_000});
    if (created.network) await podman.run(['network', 'rm', '--force', network]);
    pki?.cleanup();
    const left = await podman.run(['pod', 'ps', '--format', '{{.Name}}']);
    assert.ok(!left.stdout.includes('hmtls-kube-'), `pod removed: ${left.stdout}`);
    if (work) fs.rmSync(work, {recursive: true, force: true});
  });

  it('starts with POSTURE_MODE=enforce: the posture check allows, only the pod-level pids limit left unproven and accepted', () => {
    const line = logs
      .split('\n')
      .map(l => {
        try {
          return JSON.parse(l) as {event?: string; decision?: string; acceptedUnproven?: {id: string}[]};
        } catch {
          return {};
        }
      })
      .find(l => l.event === 'posture.check');
    assert.equal(line?.decision, 'allow', logs.slice(-3000));
    const accepted = (line?.acceptedUnproven ?? []).map(a => a.id).sort();
    assert.deepEqual(
      accepted.filter(id => !['cgroup-limits-set', 'ptrace-restricted', 'userns-restricted'].includes(id)),
      [],
    );
    assert.ok(accepted.includes('userns-restricted') && accepted.includes('ptrace-restricted'), JSON.stringify(accepted));
  });

  it('runs as the manifest says: uid 10001, read-only root, no capabilities, no_new_privs, the Localhost seccomp profile', async () => {
    const r = await podman.run(
      [
        'exec',
        ctr,
        '/nodejs/bin/node',
        '-e',
        'const s=require("fs").readFileSync("/proc/self/status","utf8");process.stdout.write(JSON.stringify({uid:process.getuid(),s:Object.fromEntries(s.split("\\n").filter(Boolean).map(l=>[l.slice(0,l.indexOf(":")),l.slice(l.indexOf(":")+1).trim()]))}))',
      ],
      {timeoutMs: 60_000},
    );
    assert.equal(r.code, 0, r.stderr);
    const {uid, s} = JSON.parse(r.stdout) as {uid: number; s: Record<string, string>};
    assert.equal(uid, 10001);
    assert.equal(s.CapEff, '0000000000000000');
    assert.equal(s.CapBnd, '0000000000000000');
    assert.equal(s.NoNewPrivs, '1');
    assert.equal(s.Seccomp, '2');
    const c = JSON.parse(await podman.ok(['inspect', ctr]))[0];
    assert.equal(c.HostConfig.ReadonlyRootfs, true);
    // the Localhost profile is in force: every escape syscall is denied (podman's default would
    // let unshare(CLONE_NEWUSER) and keyctl through; see container.test.ts's control)
    const p = await podman.run(['exec', ctr, SYSCALL_PROBE_PATH], {timeoutMs: 120_000});
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const attempts = (JSON.parse(p.stdout) as {attempts: SyscallAttempt[]}).attempts;
    assert.ok(attempts.length >= 20);
    assert.deepEqual(
      attempts.filter(a => !syscallBlocked(a.errno)).map(a => `${a.name}: ${a.error || 'succeeded'}`),
      [],
    );
  });

  it('answers an mTLS request (into the pod network namespace, to its loopback)', async () => {
    const pid = Number((await podman.ok(['inspect', '--format', '{{.State.Pid}}', ctr])).trim());
    const r = await runHost(
      'nsenter',
      ['-t', String(pid), '-n', '--', process.execPath, path.join(REPO_ROOT, 'dist', 'src', 'posture', 'healthcheck.js')],
      {
        PORT: '8443',
        HEALTHCHECK_CERT_FILE: pki.clientCert,
        HEALTHCHECK_KEY_FILE: pki.clientKey,
        HEALTHCHECK_CA_FILE: pki.caCert,
        HEALTHCHECK_SERVERNAME: 'localhost',
        HEALTHCHECK_PATH: '/whoami',
      },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /HTTP 200/);
  });
});
