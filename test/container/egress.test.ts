/**
 * Container tier: docker-compose.yml's network layout run for real with podman + runc (issue 17,
 * defect 5). Each compose network becomes a test network with the same `internal` setting:
 *   app   -> `podman network create --internal`   (the service + ingress-relay)
 *   ocsp  -> `podman network create --internal`   (the service; nothing else here)
 *   edge  -> `podman network create`              (ingress-relay + a canary listener)
 *   outbound -> `podman network create`           (ocsp-egress; its gateway address stands for
 *                                                  the outside, where a real `openssl ocsp`
 *                                                  responder listens)
 * The service (hardened-mtls) and ingress-relay run with exactly their compose flags (compose.ts),
 * the relay's port published on 127.0.0.1 as compose declares it. Then:
 *   - a real mTLS client (curl with the client certificate) through the published relay port gets
 *     200 from /whoami with its own identity; the service's auth.decision audit line names the
 *     verified certificate (fingerprint) and the relay's address as the peer; without a client
 *     certificate: no 200 (the relay does not terminate TLS);
 *   - from inside the service, a TCP connect to a canary listening on the edge network fails
 *     (no route), while the relay reaches the same canary (the control); the service's
 *     /proc/net/route has no default route, the relay's has one;
 *   - the relay runs with the hardening compose declares and writes relay.connection audit lines;
 *   - revocation by OCSP works through `ocsp-egress` only: the service (MTLS_REVOCATION=ocsp,
 *     fail closed) gets its answer from the outside responder via the relay, while a direct
 *     connect from the service to that responder fails.
 * Teardown removes the containers and networks; the image goes in image-fixture.ts.
 */
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {givenOcspResponder, LoopbackResponder} from '../fixtures/ocsp-responder';
import {opensslOk} from '../fixtures/openssl';
import {givenPki, Pki} from '../integration/sandbox/pki-fixture';
import {loadCompose, podmanCommand, podmanRunArgs} from './compose';
import {givenBuiltImage, givenWorkDir} from './image-fixture';
import {freePort, Podman, RunResult} from './podman';

const SERVICE = 'hardened-mtls';
const RELAY = 'ingress-relay';
const EGRESS = 'ocsp-egress';
const CANARY_PORT = 9099;

function runHost(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', code => {
      clearTimeout(timer);
      resolve({code, stdout, stderr});
    });
  });
}

/** node -e script: a TCP connect to HOST:PORT bounded at 5 s; prints {ok} or {code}. */
const CONNECT = `const net=require("net");const s=net.connect({host:process.argv[1],port:Number(process.argv[2])});
  const done=o=>{process.stdout.write(JSON.stringify(o));s.destroy();process.exit(0)};
  s.setTimeout(5000,()=>done({code:"TIMEOUT"}));s.on("connect",()=>done({ok:true}));s.on("error",e=>done({code:e.code}));`;

/** node -e script: the routing table (/proc/net/route) as [{iface, destination, gateway}]. */
const ROUTES = `const fs=require("fs");process.stdout.write(JSON.stringify(fs.readFileSync("/proc/net/route","utf8").trim().split("\\n").slice(1)
  .map(l=>l.trim().split(/\\s+/)).map(c=>({iface:c[0],destination:c[1],gateway:c[2],mask:c[7]}))))`;

describe('container tier: compose networks: the service has no egress, ingress through the TCP relay (container)', function () {
  this.timeout(30 * 60_000);
  let podman: Podman;
  let work: string;
  let pki: Pki;
  let hostPort = 0;
  const nets = {app: '', ocsp: '', edge: '', outbound: ''};
  const ctr = {service: '', relay: '', canary: '', egress: ''};
  let responder: LoopbackResponder | undefined;
  const created: {nets: string[]; ctrs: string[]} = {nets: [], ctrs: []};
  let canaryIp = '';
  let relayAppIp = '';

  const execNode = (container: string, args: string[]) => podman.run(['exec', container, '/nodejs/bin/node', ...args], {timeoutMs: 60_000});
  const logsOf = async (container: string) => {
    const r = await podman.run(['logs', container]);
    return r.stdout + r.stderr;
  };
  const waitForLog = async (container: string, re: RegExp) => {
    for (let i = 0; ; i++) {
      const logs = await logsOf(container);
      if (re.test(logs)) return logs;
      const st = (await podman.ok(['inspect', '--format', '{{.State.Status}}', container])).trim();
      if (st !== 'running' || i >= 120) throw new Error(`${container} ${st}, no ${re}: ${logs.slice(-4000)}`);
      await new Promise(r => setTimeout(r, 500));
    }
  };

  before(async () => {
    const image = await givenBuiltImage();
    podman = image.podman;
    work = givenWorkDir(image, 'egress');
    nets.app = `hmtls-app-${image.runId}`;
    nets.ocsp = `hmtls-ocsp-${image.runId}`;
    nets.edge = `hmtls-edge-${image.runId}`;
    nets.outbound = `hmtls-outbound-${image.runId}`;
    ctr.egress = `hmtls-egress-ocsp-${image.runId}`;
    ctr.service = `hmtls-egress-svc-${image.runId}`;
    ctr.relay = `hmtls-egress-relay-${image.runId}`;
    ctr.canary = `hmtls-egress-canary-${image.runId}`;

    const compose = loadCompose({MTLS_ALLOWED_SUBJECTS: 'uri:x'}); // only the network settings are read here
    for (const [name, testName] of Object.entries(nets)) {
      const internal = (compose.networks?.[name] as {internal?: boolean} | null)?.internal === true;
      await podman.ok(['network', 'create', ...(internal ? ['--internal'] : []), testName]);
      created.nets.push(testName);
      const inspect = JSON.parse(await podman.ok(['network', 'inspect', testName]))[0];
      assert.equal(inspect.internal === true, internal, `${testName} internal=${internal} like compose's ${name}`);
    }
    const subnetOf = async (n: string) => JSON.parse(await podman.ok(['network', 'inspect', n]))[0].subnets[0] as {subnet: string; gateway: string};

    pki = givenPki({keepCaKey: true});
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

    // The "outside" OCSP responder: real `openssl ocsp` answering for the test CA (the client
    // certificate is good in its index), listening on the outbound network's gateway address.
    const serial = opensslOk(['x509', '-in', pki.clientCert, '-noout', '-serial'])
      .trim()
      .replace(/^serial=/, '');
    const end = new Date(
      opensslOk(['x509', '-in', pki.clientCert, '-noout', '-enddate'])
        .trim()
        .replace(/^notAfter=/, ''),
    );
    const ymd = end.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    const index = path.join(work, 'index.txt');
    fs.writeFileSync(index, `V\t${ymd}\t\t${serial}\tunknown\t/CN=health\n`);
    // (netavark creates the bridge, and its gateway address, when the first container joins: the
    // responder listens once ocsp-egress runs, on a port chosen now)
    const outboundGw = (await subnetOf(nets.outbound)).gateway;
    const responderPort = await freePort();
    const ocspSubnet = (await subnetOf(nets.ocsp)).subnet;
    const egressAddress = ocspSubnet.replace(/\.\d+\/\d+$/, '.10');
    const doc = loadCompose({
      TLS_DIR: tlsDir,
      HEALTH_CLIENT_DIR: healthDir,
      MTLS_ALLOWED_SUBJECTS: `uri:${pki.clientUri}`,
      // revocation by OCSP only, fail closed: a 200 needs the responder's answer via ocsp-egress
      MTLS_REVOCATION: 'ocsp',
      MTLS_OCSP_URL: `http://${egressAddress}:8080/`,
      OCSP_UPSTREAM: `${outboundGw}:${responderPort}`,
      // compose pins the ocsp subnet and ocsp-egress's address on it; the test network's own
      // subnet stands in
      OCSP_SUBNET: ocspSubnet,
      OCSP_EGRESS_ADDRESS: egressAddress,
    });
    hostPort = await freePort();

    const svc = doc.services[SERVICE];
    await podman.ok([
      'run',
      '--detach',
      ...podmanRunArgs(svc, {networks: nets, alias: SERVICE, name: ctr.service}),
      image.names.app,
      ...podmanCommand(svc),
    ]);
    created.ctrs.push(ctr.service);
    await waitForLog(ctr.service, /"event":"listening"/);

    const egress = doc.services[EGRESS];
    await podman.ok([
      'run',
      '--detach',
      ...podmanRunArgs(egress, {networks: nets, alias: EGRESS, name: ctr.egress}),
      image.names.app,
      ...podmanCommand(egress),
    ]);
    created.ctrs.push(ctr.egress);
    await waitForLog(ctr.egress, /"event":"relay\.listening"/);
    responder = await givenOcspResponder({
      host: outboundGw,
      port: responderPort,
      indexFile: index,
      caCert: pki.caCert,
      rsignerCert: pki.caCert,
      rsignerKey: pki.caKey!,
      ndays: 1,
    });

    const relay = doc.services[RELAY];
    const relayArgs = podmanRunArgs(relay, {networks: nets, alias: RELAY, name: ctr.relay, hostPort: () => hostPort});
    await podman.ok(['run', '--detach', ...relayArgs, image.names.app, ...podmanCommand(relay)]);
    created.ctrs.push(ctr.relay);
    await waitForLog(ctr.relay, /"event":"relay\.listening"/);

    // The canary: a listener on the edge network (non-internal: it has a route out), never on a
    // network the service joins. Same image, plain node.
    const canaryScript = `require("net").createServer(s=>s.end("canary\\n")).listen(${CANARY_PORT},"0.0.0.0",()=>process.stdout.write("canary listening\\n"))`;
    await podman.ok([
      'run',
      '--detach',
      '--name',
      ctr.canary,
      '--network',
      nets.edge,
      '--read-only',
      '--read-only-tmpfs=false',
      '--user',
      '10001:10001',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--pids-limit',
      '32',
      '--memory',
      '64m',
      '--entrypoint',
      '["/nodejs/bin/node"]',
      image.names.app,
      '-e',
      canaryScript,
    ]);
    created.ctrs.push(ctr.canary);
    await waitForLog(ctr.canary, /canary listening/);
    const ipOn = async (container: string, net: string) =>
      String(JSON.parse(await podman.ok(['inspect', container]))[0].NetworkSettings.Networks[net]?.IPAddress ?? '');
    canaryIp = await ipOn(ctr.canary, nets.edge);
    relayAppIp = await ipOn(ctr.relay, nets.app);
    assert.match(canaryIp, /^\d+\.\d+\.\d+\.\d+$/);
    assert.match(relayAppIp, /^\d+\.\d+\.\d+\.\d+$/);
  });

  after(async () => {
    if (!podman) return;
    for (const c of created.ctrs.reverse()) await podman.run(['rm', '--force', '--time', '0', c]);
    for (const n of created.nets) await podman.run(['network', 'rm', '--force', n]);
    await responder?.stop();
    pki?.cleanup();
    const left = await podman.run(['ps', '--all', '--format', '{{.Names}}']);
    for (const c of Object.values(ctr)) if (c) assert.ok(!left.stdout.split('\n').includes(c), `${c} removed`);
    const netsLeft = (await podman.run(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n');
    for (const n of Object.values(nets)) if (n) assert.ok(!netsLeft.includes(n), `${n} removed`);
    if (work) fs.rmSync(work, {recursive: true, force: true});
  });

  it('the service joins only the internal networks and publishes nothing; the relay joins edge + app and publishes on 127.0.0.1', async () => {
    const s = JSON.parse(await podman.ok(['inspect', ctr.service]))[0];
    assert.deepEqual(Object.keys(s.NetworkSettings.Networks).sort(), [nets.app, nets.ocsp].sort());
    for (const n of Object.keys(s.NetworkSettings.Networks))
      assert.equal(JSON.parse(await podman.ok(['network', 'inspect', n]))[0].internal, true, n);
    // (an EXPOSEd port appears with a null binding)
    assert.deepEqual(
      Object.values(s.HostConfig.PortBindings ?? {})
        .flat()
        .filter(b => b !== null),
      [],
    );
    const r = JSON.parse(await podman.ok(['inspect', ctr.relay]))[0];
    assert.deepEqual(Object.keys(r.NetworkSettings.Networks).sort(), [nets.app, nets.edge].sort());
    assert.deepEqual(r.HostConfig.PortBindings['8443/tcp'], [{HostIp: '127.0.0.1', HostPort: String(hostPort)}]);
  });

  it('the relay runs with the hardening compose declares (read-only, non-root, cap_drop ALL, no-new-privileges, seccomp, limits)', async () => {
    const r = JSON.parse(await podman.ok(['inspect', ctr.relay]))[0];
    assert.equal(r.HostConfig.ReadonlyRootfs, true);
    assert.equal(r.Config.User, '10001:10001');
    assert.deepEqual(r.HostConfig.CapAdd ?? [], []);
    assert.deepEqual(r.EffectiveCaps ?? [], []);
    assert.ok((r.HostConfig.SecurityOpt as string[]).some(x => /no-new-privileges/.test(x)));
    assert.ok(JSON.stringify(r.HostConfig.SecurityOpt ?? []).includes('seccomp') || /hardened-mtls\.json$/.test(String(r.SeccompProfilePath ?? '')));
    assert.equal(r.HostConfig.PidsLimit, 64);
    assert.equal(r.HostConfig.Memory, 128 * 1024 * 1024);
    assert.deepEqual(r.Config.Cmd, ['/nodejs/bin/node', '/app/dist/src/relay/tcp-relay.js']);
    // its own health check: the listening socket in /proc/net/tcp
    const h = await podman.run(['healthcheck', 'run', ctr.relay], {timeoutMs: 60_000});
    assert.equal(h.code, 0, h.stdout + h.stderr);
  });

  it('a real mTLS client (curl, client certificate) through the published relay port gets 200 with its own identity; the audit names the verified certificate', async () => {
    const r = await runHost('curl', [
      '--silent',
      '--show-error',
      '--max-time',
      '20',
      '--tlsv1.3',
      '--resolve',
      `localhost:${hostPort}:127.0.0.1`,
      '--cacert',
      pki.caCert,
      '--cert',
      pki.clientCert,
      '--key',
      pki.clientKey,
      '--write-out',
      '\n%{http_code}',
      `https://localhost:${hostPort}/whoami`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = [r.stdout.slice(0, r.stdout.lastIndexOf('\n')), r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)];
    if (status !== '200') {
      const why = (await logsOf(ctr.service)).split('\n').filter(l => /auth\.decision|outbound/.test(l));
      assert.fail(`${r.stdout}\nservice: ${why.slice(-4).join('\n')}\nocsp-egress: ${(await logsOf(ctr.egress)).slice(-2000)}`);
    }
    const who = JSON.parse(body) as {sans: {uri: string[]}; fingerprint256: string};
    assert.deepEqual(who.sans.uri, [pki.clientUri]);
    const fp = new crypto.X509Certificate(fs.readFileSync(pki.clientCert)).fingerprint256;
    assert.equal(who.fingerprint256, fp);
    // the service verified the certificate itself (end-to-end TLS through the relay), and sees the
    // relay as its TCP peer
    const logs = await waitForLog(ctr.service, new RegExp(`"event":"auth\\.decision"[^\\n]*"fingerprint":"${fp}"`));
    const line = logs.split('\n').find(l => l.includes('"event":"auth.decision"') && l.includes(fp))!;
    const rec = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
    assert.equal(rec.decision, 'allow');
    assert.equal(rec.remoteAddress, relayAppIp, 'the peer is the relay (no client address through an L4 relay)');
    // and the relay wrote its own connection line
    const relayLogs = await waitForLog(ctr.relay, /"event":"relay\.connection"[^\n]*"decision":"allow"/);
    assert.match(relayLogs, /"target":"hardened-mtls:8443"/);
  });

  it('without a client certificate: no 200 through the relay (it does not terminate TLS)', async () => {
    const r = await runHost('curl', [
      '--silent',
      '--max-time',
      '20',
      '--resolve',
      `localhost:${hostPort}:127.0.0.1`,
      '--cacert',
      pki.caCert,
      '--write-out',
      '\n%{http_code}',
      `https://localhost:${hostPort}/whoami`,
    ]);
    const status = r.stdout.slice(r.stdout.lastIndexOf('\n') + 1);
    assert.notEqual(status, '200', r.stdout + r.stderr);
    assert.ok(r.code !== 0 || /^4\d\d$/.test(status), `${r.code} ${status}`);
  });

  it('the service cannot reach a canary on the non-internal network; the relay (control) can', async () => {
    const fromService = await execNode(ctr.service, ['-e', CONNECT, canaryIp, String(CANARY_PORT)]);
    assert.equal(fromService.code, 0, fromService.stderr);
    const s = JSON.parse(fromService.stdout) as {ok?: boolean; code?: string};
    assert.notEqual(s.ok, true, 'the service reached the canary');
    assert.ok(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT'].includes(String(s.code)), `unexpected ${s.code}`);
    const fromRelay = await execNode(ctr.relay, ['-e', CONNECT, canaryIp, String(CANARY_PORT)]);
    assert.deepEqual(JSON.parse(fromRelay.stdout), {ok: true}, `the canary answers on the edge network: ${fromRelay.stdout} ${fromRelay.stderr}`);
  });

  it("the service's routing table has no default route; the relay's (control) has one", async () => {
    const svc = JSON.parse((await execNode(ctr.service, ['-e', ROUTES])).stdout) as {destination: string; mask: string}[];
    assert.ok(svc.length > 0, 'routes read');
    assert.deepEqual(
      svc.filter(r => r.destination === '00000000'),
      [],
      JSON.stringify(svc),
    );
    const relay = JSON.parse((await execNode(ctr.relay, ['-e', ROUTES])).stdout) as {destination: string}[];
    assert.ok(
      relay.some(r => r.destination === '00000000'),
      JSON.stringify(relay),
    );
  });

  it("OCSP through ocsp-egress only: the service got the outside responder's answer via the relay; a direct connect to the responder fails", async () => {
    assert.ok(responder!.requests.length > 0, 'the responder answered the service (the 200 above needed it: MTLS_REVOCATION=ocsp fails closed)');
    const logs = await logsOf(ctr.service);
    const allow = logs
      .split('\n')
      .filter(l => l.includes('"event":"auth.decision"') && l.includes('"decision":"allow"'))
      .map(l => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>);
    assert.ok(allow.length > 0);
    assert.ok(
      allow.every(l => l.source === 'ocsp'),
      JSON.stringify(allow.map(l => l.source)),
    );
    const eg = await waitForLog(ctr.egress, /"event":"relay\.connection"[^\n]*"decision":"allow"/);
    assert.match(eg, new RegExp(`"target":"${responder!.url.replace(/^http:\/\/|\/$/g, '').replace(/\./g, '\\.')}"`));
    const u = new URL(responder!.url);
    const direct = await execNode(ctr.service, ['-e', CONNECT, u.hostname, u.port]);
    const d = JSON.parse(direct.stdout) as {ok?: boolean; code?: string};
    assert.notEqual(d.ok, true, 'the service reached the outside responder directly');
    const viaEgress = await execNode(ctr.egress, ['-e', CONNECT, u.hostname, u.port]);
    assert.deepEqual(JSON.parse(viaEgress.stdout), {ok: true}, 'control: ocsp-egress reaches it');
  });
});
