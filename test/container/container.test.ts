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
 *   - the image metadata (user, port, entrypoint, env) is what the Dockerfile declares.
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

describe('container tier: the hardened image under podman + runc', function () {
  this.timeout(30 * 60_000);
  const names = {app: '', network: '', container: ''};
  let work: string;
  let podman: Podman;
  let pki: Pki;
  let containerPid = 0;
  const created = {network: false, container: false};

  const exec = (args: string[]) => podman.run(['exec', names.container, '/nodejs/bin/node', ...args], {timeoutMs: 120_000});

  before(async () => {
    const image = await givenBuiltImage();
    podman = image.podman;
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
    put(pki.clientCert, path.join(healthDir, 'client.crt'), 0o444);
    put(pki.clientKey, path.join(healthDir, 'client.key'), 0o400);

    const compose = loadCompose({TLS_DIR: tlsDir, HEALTH_CLIENT_DIR: healthDir, MTLS_ALLOWED_SUBJECTS: `uri:${pki.clientUri}`});
    const hostPort = await freePort();
    const args = podmanRunArgs(compose.services[SERVICE], {network: names.network, name: names.container, hostPort: () => hostPort});
    await podman.ok(['run', '--detach', ...args, names.app]);
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
    const r = await runHost('nsenter', ['-t', String(containerPid), '-n', '--', process.execPath, path.join(REPO_ROOT, 'dist', 'src', 'posture', 'healthcheck.js')], {
      PORT: '8443', HEALTHCHECK_CERT_FILE: pki.clientCert, HEALTHCHECK_KEY_FILE: pki.clientKey, HEALTHCHECK_CA_FILE: pki.caCert,
      HEALTHCHECK_SERVERNAME: 'localhost', HEALTHCHECK_PATH: '/whoami',
    });
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
    assert.deepEqual(report.findings.filter(f => !f.ok && f.severity !== 'low').map(f => `${f.id}: ${f.detail}`), []);
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
    for (const p of ["/probe", "/etc/probe", "/app/probe", "/app/dist/src/probe", "/nodejs/probe"]) assert.equal(out[p], 'EROFS', p);
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
    assert.deepEqual(img.Config.Entrypoint, ['/nodejs/bin/node', '/app/dist/src/index.js']);
    assert.ok(Object.keys(img.Config.ExposedPorts).includes('8443/tcp'));
    assert.ok((img.Config.Env as string[]).includes('NODE_ENV=production'));
    assert.ok((img.Config.Env as string[]).includes('POSTURE_MODE=enforce'));
    assert.ok(!(img.Config.Env as string[]).some(e => /NODE_EXTRA_CA_CERTS/.test(e)), 'build arguments are not kept');
    // no test files, keys or dev dependencies in the image
    const r = await exec(['-e', `const fs=require("fs");process.stdout.write(JSON.stringify({
      test: fs.existsSync("/app/dist/test"), ts: fs.existsSync("/app/node_modules/typescript"), mocha: fs.existsSync("/app/node_modules/mocha"),
      certs: fs.existsSync("/app/certs")}))`]);
    assert.deepEqual(JSON.parse(r.stdout), {test: false, ts: false, mocha: false, certs: false});
  });
});
