/**
 * Container tier (`npm run test:container`, run by .ci/run): the project's own Dockerfile built
 * with podman + runc from local stand-in base images (made from the host's node binary: no
 * registry is reachable), `--pull=never`, the build stage reaching npm the way the host does
 * (`--network=host` for the build only, the host's npm cache mounted, the host's CA bundle).
 * The image then runs with exactly the flags docker-compose.yml declares (translated by
 * compose.ts) on a podman network created `--internal` (never the default bridge), and:
 *   - an mTLS request from the host succeeds (sent into the container's own network namespace,
 *     to its loopback), one without a client certificate gets no 200;
 *   - the image's own HEALTHCHECK (mTLS, node script) passes;
 *   - the posture check inside reports compliant;
 *   - writes to / fail (EROFS), /tmp is writable but noexec, application files are root-owned;
 *   - the image metadata (user, port, entrypoint, env, OCI labels, Healthcheck: built with
 *     `--format docker`) is what the Dockerfile declares; the image ships only the service;
 *   - under the shipped seccomp profile every escape syscall of the static probe (bind-mounted,
 *     never in the image) returns EPERM/ENOSYS, while podman's default profile lets
 *     unshare(CLONE_NEWUSER) through (the oracle that the probe can see a difference);
 *   - orphaned children are reaped (compose `init: true` and the image's own tini), while node as
 *     PID 1 leaves zombies (control); SIGHUP reaches node through the inits (reload), SIGTERM too
 *     (graceful exit 0; the last test).
 * The image is built once per run and shared with escape.test.ts (image-fixture.ts). Teardown
 * removes the container and the network; the fixture's root hook removes every image the run made.
 */
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type {PostureReport} from '../../src/posture/posture';
import {givenPki, Pki} from '../integration/sandbox/pki-fixture';
import {loadCompose, podmanRunArgs, REPO_ROOT} from './compose';
import {givenBuiltImage, givenWorkDir} from './image-fixture';
import {freePort, Podman, RunResult} from './podman';
import {syscallBlocked, SYSCALL_PROBE_PATH, SyscallAttempt} from '../../src/escape/runtime';

const SERVICE = 'hardened-mtls';

function runHost(cmd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', code => resolve({code, stdout, stderr}));
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, attempts = 120, delayMs = 500): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise(r => setTimeout(r, delayMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('container tier: the hardened image under podman + runc (container)', function () {
  this.timeout(30 * 60_000);
  const names = {app: '', network: '', container: ''};
  let work: string;
  let podman: Podman;
  let pki: Pki;
  let containerPid = 0;
  let probe = '';
  const created = {network: false, container: false};

  const exec = (args: string[]) => podman.run(['exec', names.container, '/nodejs/bin/node', ...args], {timeoutMs: 120_000});

  before(async () => {
    const image = await givenBuiltImage();
    podman = image.podman;
    probe = image.syscallProbe;
    work = givenWorkDir(image, 'container');
    Object.assign(names, {app: image.names.app, network: `hmtls-internal-${image.runId}`, container: `hmtls-${image.runId}`});

    await podman.ok(['network', 'create', '--internal', '--disable-dns', names.network]);
    created.network = true;
    const inspect = JSON.parse(await podman.ok(['network', 'inspect', names.network]))[0];
    assert.equal(inspect.internal, true, 'the network is internal');

    // Certificates: server material for TLS_DIR, the health-check identity for HEALTH_CLIENT_DIR.
    pki = givenPki();
    const tlsDir = path.join(work, 'tls');
    const healthDir = path.join(work, 'health');
    for (const d of [tlsDir, healthDir]) fs.mkdirSync(d, {mode: 0o755});
    const put = (src: string, dst: string, mode: number) => {
      fs.copyFileSync(src, dst);
      fs.chownSync(dst, 10001, 10001);
      fs.chmodSync(dst, mode);
    };
    put(pki.serverCert, path.join(tlsDir, 'server.crt'), 0o444);
    put(pki.serverKey, path.join(tlsDir, 'server.key'), 0o400);
    put(pki.caCert, path.join(tlsDir, 'ca-bundle.crt'), 0o444);
    put(pki.crl, path.join(tlsDir, 'ca.crl'), 0o444);
    put(pki.clientCert, path.join(healthDir, 'client.crt'), 0o444);
    put(pki.clientKey, path.join(healthDir, 'client.key'), 0o400);

    const compose = loadCompose({
      TLS_DIR: tlsDir,
      HEALTH_CLIENT_DIR: healthDir,
      MTLS_ALLOWED_SUBJECTS: `uri:${pki.clientUri}`,
      TLS_CRL_FILES: '/etc/hardened-mtls/tls/ca.crl',
    });
    const hostPort = await freePort();
    const args = podmanRunArgs(compose.services[SERVICE], {network: names.network, name: names.container, hostPort: () => hostPort});
    await podman.ok(['run', '--detach', ...args, '--volume', `${probe}:${SYSCALL_PROBE_PATH}:ro`, names.app]);
    created.container = true;

    await waitFor('the listening log line', async () => {
      const logs = await podman.run(['logs', names.container]);
      if (/"event":"listening"/.test(logs.stdout + logs.stderr)) return true;
      const state = (await podman.ok(['inspect', '--format', '{{.State.Status}}', names.container])).trim();
      if (state !== 'running') throw new Error(`container ${state}: ${logs.stdout.slice(-4000)} ${logs.stderr.slice(-4000)}`);
      return undefined;
    });
    containerPid = Number((await podman.ok(['inspect', '--format', '{{.State.Pid}}', names.container])).trim());
    assert.ok(containerPid > 0);
  });

  after(async () => {
    if (!podman) return;
    if (created.container) await podman.run(['rm', '--force', '--time', '0', names.container]);
    if (created.network) await podman.run(['network', 'rm', '--force', names.network]);
    pki?.cleanup();
    // teardown check: nothing of this file's is left (the shared image goes in image-fixture.ts)
    const left = await podman.run(['ps', '--all', '--filter', `name=${names.container}`, '--format', '{{.Names}}']);
    assert.equal(left.stdout.trim(), '', 'container removed');
    const nets = await podman.run(['network', 'ls', '--format', '{{.Name}}']);
    assert.ok(!nets.stdout.split('\n').includes(names.network), 'network removed');
    fs.rmSync(work, {recursive: true, force: true});
  });

  it('runs with the hardening docker-compose.yml declares (inspect)', async () => {
    const c = JSON.parse(await podman.ok(['inspect', names.container]))[0];
    assert.equal(c.HostConfig.ReadonlyRootfs, true);
    assert.deepEqual(c.HostConfig.CapAdd ?? [], []);
    assert.ok((c.HostConfig.SecurityOpt as string[]).some(s => /no-new-privileges/.test(s)));
    assert.equal(c.HostConfig.PidsLimit, 256);
    assert.equal(c.HostConfig.Memory, 512 * 1024 * 1024);
    assert.equal(c.Config.User, '10001:10001');
    assert.deepEqual(Object.keys(c.NetworkSettings.Networks), [names.network]);
    assert.notEqual(c.HostConfig.NetworkMode, 'host');
    assert.notEqual(c.HostConfig.PidMode, 'host');
    assert.notEqual(c.HostConfig.IpcMode, 'host');
  });

  it('an mTLS request from the host succeeds (into the container network namespace, to its loopback)', async () => {
    const r = await runHost(
      'nsenter',
      ['-t', String(containerPid), '-n', '--', process.execPath, path.join(REPO_ROOT, 'dist', 'src', 'posture', 'healthcheck.js')],
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

  it('a request without a client certificate gets no 200', async () => {
    const script = `const https=require("https");const fs=require("fs");
      const req=https.request({host:"127.0.0.1",port:8443,path:"/whoami",servername:"localhost",ca:fs.readFileSync(process.env.CA),minVersion:"TLSv1.3",agent:false},
        res=>{process.stdout.write("HTTP "+res.statusCode+"\\n");res.resume()});
      req.on("error",e=>process.stdout.write("ERROR "+(e.code||e.message)+"\\n"));req.end();`;
    const r = await runHost('nsenter', ['-t', String(containerPid), '-n', '--', process.execPath, '-e', script], {CA: pki.caCert});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^(ERROR|HTTP 4\d\d)/);
  });

  it("the image's own HEALTHCHECK (mTLS with the mounted health-client certificate) passes", async () => {
    const r = await podman.run(['healthcheck', 'run', names.container], {timeoutMs: 60_000});
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('the posture check inside the container reports compliant', async () => {
    const r = await exec(['/app/dist/src/posture/cli.js', '--format', 'json']);
    const report = JSON.parse(r.stdout) as PostureReport;
    assert.deepEqual(
      report.failed.map(id => `${id}: ${report.findings.find(f => f.id === id)?.detail}`),
      [],
    );
    // what it cannot prove it says: the seccomp-dependent findings are unproven (accepted by the
    // compose file's POSTURE_ACCEPT_UNPROVEN), never passed on the assumption
    assert.deepEqual(report.unproven.slice().sort(), ['ptrace-restricted', 'userns-restricted']);
    assert.ok(report.findings.filter(f => f.status === 'unproven').every(f => f.accepted === true));
    assert.equal(report.findings.find(f => f.id === 'cgroup-limits-set')?.status, 'pass');
    assert.equal(report.compliant, true);
    assert.equal(r.code, 0);
  });

  it('writes to / fail with EROFS (root, /etc, /app); application files are root-owned and not writable', async () => {
    const script = `const fs=require("fs");const out={};
      for (const p of ["/probe","/etc/probe","/app/probe","/app/dist/src/probe","/nodejs/probe"]) {
        try { fs.writeFileSync(p,"x"); out[p]="written"; } catch (e) { out[p]=e.code; } }
      const st=fs.statSync("/app/dist/src/index.js"); out.owner=st.uid; out.mode=(st.mode&0o777).toString(8);
      try { fs.accessSync("/app/dist/src/index.js", fs.constants.W_OK); out.appWritable=true } catch { out.appWritable=false }
      process.stdout.write(JSON.stringify(out));`;
    const r = await exec(['-e', script]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    for (const p of ['/probe', '/etc/probe', '/app/probe', '/app/dist/src/probe', '/nodejs/probe']) assert.equal(out[p], 'EROFS', p);
    assert.equal(out.owner, 0);
    assert.equal(out.appWritable, false);
  });

  it('/tmp is writable but noexec: an executable written there cannot be run', async () => {
    const script = `const fs=require("fs");const cp=require("child_process");
      fs.writeFileSync("/tmp/probe.js","#!/nodejs/bin/node\\nprocess.exit(0)\\n",{mode:0o755});
      let res; try { cp.execFileSync("/tmp/probe.js"); res="EXECUTED" } catch (e) { res=e.code }
      const m=fs.readFileSync("/proc/self/mountinfo","utf8").split("\\n").find(l=>l.split(" ")[4]==="/tmp");
      fs.unlinkSync("/tmp/probe.js"); process.stdout.write(JSON.stringify({res, m}));`;
    const r = await exec(['-e', script]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.res, 'EACCES');
    assert.match(out.m, / \/tmp [^ ]*noexec/);
    assert.match(out.m, /nosuid/);
  });

  it('the image metadata is what the Dockerfile declares', async () => {
    const img = JSON.parse(await podman.ok(['image', 'inspect', names.app]))[0];
    assert.equal(img.Config.User, '10001:10001');
    assert.deepEqual(img.Config.Entrypoint, ['/usr/bin/tini', '-s', '--']);
    assert.deepEqual(img.Config.Cmd, ['/nodejs/bin/node', '/app/dist/src/index.js']);
    // built with --format docker: the HEALTHCHECK is in the image config (OCI drops it)
    assert.equal(img.ManifestType, 'application/vnd.docker.distribution.manifest.v2+json');
    const hc = img.Healthcheck ?? img.HealthCheck ?? img.Config.Healthcheck;
    assert.deepEqual(
      hc?.Test,
      ['CMD', '/nodejs/bin/node', '/app/dist/src/posture/healthcheck.js'],
      `Healthcheck in the image config: ${JSON.stringify(Object.keys(img))}`,
    );
    const labels = img.Config.Labels as Record<string, string>;
    const {version} = await givenBuiltImage();
    assert.equal(labels['org.opencontainers.image.version'], version);
    assert.match(labels['org.opencontainers.image.revision'], /^test-/);
    assert.match(labels['org.opencontainers.image.created'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(labels['org.opencontainers.image.source'], /^https:\/\//);
    assert.ok(Object.keys(img.Config.ExposedPorts).includes('8443/tcp'));
    assert.ok((img.Config.Env as string[]).includes('NODE_ENV=production'));
    assert.ok((img.Config.Env as string[]).includes('POSTURE_MODE=enforce'));
    assert.ok(!(img.Config.Env as string[]).some(e => /NODE_EXTRA_CA_CERTS/.test(e)), 'build arguments are not kept');
    // no test files, keys or dev dependencies in the image
    const r = await exec([
      '-e',
      `const fs=require("fs");process.stdout.write(JSON.stringify({
      test: fs.existsSync("/app/dist/test"), ts: fs.existsSync("/app/node_modules/typescript"), mocha: fs.existsSync("/app/node_modules/mocha"),
      certs: fs.existsSync("/app/certs")}))`,
    ]);
    assert.deepEqual(JSON.parse(r.stdout), {test: false, ts: false, mocha: false, certs: false});
  });

  it('the image ships only the service: no escape suite, demo, PKI generator CLI, source maps, source-map-support, dependency test folders', async () => {
    const script = `const fs=require("fs"),path=require("path");const out={maps:[],testDirs:[],dts:0,files:0};
      const isDepTestDir=p=>{const parts=p.split("/");const i=parts.lastIndexOf("node_modules");const rest=parts.slice(i+1);
        return i>=0&&/^(test|tests|__tests__)$/.test(rest[rest.length-1])&&(rest.length===2||(rest.length===3&&rest[0].startsWith("@")))};
      const walk=(d,depth)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){const p=path.join(d,e.name);
        if(e.isDirectory()){if(isDepTestDir(p))out.testDirs.push(p);walk(p,depth+1)}
        else{out.files++;if(e.name.endsWith(".map"))out.maps.push(p);if(e.name.endsWith(".d.ts"))out.dts++}}};
      walk("/app",0);
      for (const p of ["/app/dist/src/escape","/app/dist/src/demo","/app/dist/src/pki","/app/node_modules/source-map-support","/app/dist/src/controllers/demo.controller.js"]) out[p]=fs.existsSync(p);
      out.tini=fs.statSync("/usr/bin/tini").mode.toString(8);
      process.stdout.write(JSON.stringify(out));`;
    const r = await exec(['-e', script]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.maps.slice(0, 5), [], 'no source maps');
    assert.deepEqual(out.testDirs.slice(0, 5), [], 'no dependency test folders');
    assert.equal(out.dts, 0, 'no .d.ts');
    for (const p of ['/app/dist/src/escape', '/app/dist/src/demo', '/app/dist/src/pki', '/app/node_modules/source-map-support']) {
      assert.equal(out[p], false, `${p} absent`);
    }
    assert.ok(out.files > 100, `${out.files} files: the walk saw the application`);
  });

  it('under the shipped seccomp profile every escape syscall returns EPERM/ENOSYS (probe bind-mounted, run as uid 10001)', async () => {
    const c = JSON.parse(await podman.ok(['inspect', names.container]))[0];
    assert.ok(
      JSON.stringify(c.HostConfig.SecurityOpt ?? []).includes('seccomp') || /hardened-mtls\.json$/.test(String(c.SeccompProfilePath ?? '')),
      `the container runs with the project's profile: ${JSON.stringify({so: c.HostConfig.SecurityOpt, p: c.SeccompProfilePath})}`,
    );
    const r = await podman.run(['exec', names.container, SYSCALL_PROBE_PATH], {timeoutMs: 120_000});
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const attempts = (JSON.parse(r.stdout) as {attempts: SyscallAttempt[]}).attempts;
    assert.ok(attempts.length >= 20);
    assert.deepEqual(
      attempts.filter(a => !syscallBlocked(a.errno)).map(a => `${a.name}: ${a.errno} ${a.error}`),
      [],
    );
  });

  it("control: under podman's default seccomp profile the same probe gets unshare(CLONE_NEWUSER) and keyctl through", async () => {
    const root = givenWorkDir(await givenBuiltImage(), 'rootfs');
    fs.mkdirSync(path.join(root, 'escape-probe'), {mode: 0o755});
    fs.mkdirSync(path.join(root, 'tmp'), {mode: 0o1777});
    fs.copyFileSync(probe, path.join(root, 'escape-probe', 'syscall-probe'));
    fs.chmodSync(path.join(root, 'escape-probe', 'syscall-probe'), 0o755);
    const r = await podman.run(
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--user',
        '10001:10001',
        '--cap-drop',
        'ALL',
        '--security-opt',
        'no-new-privileges',
        '--init',
        '--rootfs',
        root,
        SYSCALL_PROBE_PATH,
      ],
      {timeoutMs: 120_000},
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const attempts = (JSON.parse(r.stdout) as {attempts: SyscallAttempt[]}).attempts;
    const byName = new Map(attempts.map(a => [a.name, a]));
    assert.equal(byName.get('unshare(CLONE_NEWUSER)')?.errno, 0, 'podman default allows user namespaces');
    assert.equal(byName.get('keyctl')?.errno, 0, 'podman default allows keyctl');
  });

  // node never reaps orphans: a child exits, its detached children are reparented to the nearest
  // subreaper or PID 1 and become zombies unless that process waits for them.
  const ORPHANS = String.raw`const cp=require("child_process"),fs=require("fs");
    const maker='const cp=require("child_process");const p=[];for(let i=0;i<8;i++){const c=cp.spawn(process.execPath,["-e","setTimeout(()=>{},50)"],{detached:true,stdio:"ignore"});c.unref();p.push(c.pid)}process.stdout.write(JSON.stringify(p))';
    const pids=JSON.parse(cp.execFileSync(process.execPath,["-e",maker],{encoding:"utf8"}));
    const state=p=>{try{return /^\d+ \(.*\) (\S)/.exec(fs.readFileSync("/proc/"+p+"/stat","utf8"))[1]}catch{return "gone"}};
    const t0=Date.now();
    const poll=()=>{const s=pids.map(state);
      if(s.every(x=>x==="gone")||Date.now()-t0>30000){process.stdout.write(JSON.stringify({pids:pids.length,states:s,pid1:require("path").basename(fs.readFileSync("/proc/1/cmdline","utf8").split("\0")[0])}));return}
      if(s.every(x=>x==="Z"||x==="gone")&&Date.now()-t0>5000){process.stdout.write(JSON.stringify({pids:pids.length,states:s,pid1:require("path").basename(fs.readFileSync("/proc/1/cmdline","utf8").split("\0")[0])}));return}
      setTimeout(poll,200)};poll();`;

  it('orphaned children are reaped in the compose container (init: true in front of tini)', async () => {
    const r = await exec(['-e', ORPHANS]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {pids: number; states: string[]; pid1: string};
    assert.equal(out.pids, 8);
    assert.deepEqual(
      out.states.filter(s => s !== 'gone'),
      [],
      `orphans left: ${out.states.join(',')} (pid 1 ${out.pid1})`,
    );
    assert.notEqual(out.pid1, 'node');
  });

  it("the image's own tini is PID 1 and reaps orphans without an outer init (as Kubernetes runs it)", async () => {
    const base = [
      'run',
      '--rm',
      '--network',
      'none',
      '--read-only',
      '--read-only-tmpfs=false',
      '--user',
      '10001:10001',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
    ];
    const withTini = await podman.run([...base, names.app, '/nodejs/bin/node', '-e', ORPHANS], {timeoutMs: 120_000});
    assert.equal(withTini.code, 0, withTini.stderr);
    const t = JSON.parse(withTini.stdout) as {pids: number; states: string[]; pid1: string};
    assert.equal(t.pid1, 'tini');
    assert.equal(t.pids, 8);
    assert.deepEqual(
      t.states.filter(s => s !== 'gone'),
      [],
    );
    // Control: without an init (node itself PID 1, as the image ran before) the same orphans stay
    // zombies, so the check above can tell reaping from its absence.
    const noInit = await podman.run([...base, '--entrypoint', '/nodejs/bin/node', names.app, '-e', ORPHANS], {timeoutMs: 120_000});
    assert.equal(noInit.code, 0, noInit.stderr);
    const n = JSON.parse(noInit.stdout) as {pids: number; states: string[]; pid1: string};
    assert.equal(n.pid1, 'node');
    assert.ok(n.states.includes('Z'), `node as PID 1 leaves zombies: ${n.states.join(',')}`);
  });

  it('SIGHUP reaches node through the inits: the certificates are reloaded', async () => {
    const before = (await podman.run(['logs', names.container])).stdout;
    const count = (text: string) => (text.match(/"event":"tls\.reload\.requested"/g) ?? []).length;
    await podman.ok(['kill', '--signal', 'HUP', names.container]);
    await waitFor(
      'the reload log line',
      async () => {
        const logs = await podman.run(['logs', names.container]);
        return count(logs.stdout + logs.stderr) > count(before) ? true : undefined;
      },
      60,
      500,
    );
    const state = (await podman.ok(['inspect', '--format', '{{.State.Status}}', names.container])).trim();
    assert.equal(state, 'running');
  });

  // Keep last: stops the container.
  it('SIGTERM reaches node through the inits: graceful shutdown, exit 0', async () => {
    await podman.ok(['stop', '--time', '15', names.container], {timeoutMs: 60_000});
    const code = Number((await podman.ok(['inspect', '--format', '{{.State.ExitCode}}', names.container])).trim());
    const logs = await podman.run(['logs', names.container]);
    assert.equal(code, 0, (logs.stdout + logs.stderr).slice(-3000));
    assert.match(logs.stdout + logs.stderr, /"event":"shutdown"[^\n]*"signal":"SIGTERM"/);
    assert.match(logs.stdout + logs.stderr, /"event":"shutdown\.complete"/);
  });
});
