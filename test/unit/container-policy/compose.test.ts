/**
 * Static policy: docker-compose.yml validated against the Compose Specification JSON schema
 * (vendored in test/fixtures/schemas), then every hardening property asserted, and its
 * translation to podman flags (what the container tier runs) checked.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import ipaddr from 'ipaddr.js';
import {parseRelayConfig} from '../../../src/relay/relay-config';
import {
  ComposeDoc,
  interpolate,
  loadCompose,
  loadComposeRaw,
  podmanCommand,
  podmanRunArgs,
  REPO_ROOT,
  serviceNetworks,
} from '../../container/compose';

const SCHEMA = path.join(REPO_ROOT, 'test', 'fixtures', 'schemas', 'compose-spec.json');
const MAIN = 'hardened-mtls';
const RELAY = 'ingress-relay';
const EGRESS = 'ocsp-egress';
const RELAY_COMMAND = ['/nodejs/bin/node', '/app/dist/src/relay/tcp-relay.js'];
const SENSITIVE = /^(\/|\/boot|\/dev|\/etc|\/lib|\/proc|\/sys|\/usr|\/var\/lib\/docker|\/var\/lib\/kubelet|\/var\/log|\/run|\/var\/run)(\/|$)/;

function givenValidator() {
  const ajv = new Ajv({strict: false, allErrors: true, validateFormats: false});
  // The schema names the draft-07 meta-schema by its https URL; register Ajv's copy under it.
  const draft7 = JSON.parse(fs.readFileSync(require.resolve('ajv/dist/refs/json-schema-draft-07.json'), 'utf8'));
  ajv.addMetaSchema({...draft7, $id: 'https://json-schema.org/draft-07/schema'});
  return ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')));
}

const VARS = {MTLS_ALLOWED_SUBJECTS: 'uri:spiffe://example.org/client/*'};

describe('container policy: docker-compose.yml (unit)', () => {
  const raw = loadComposeRaw();
  const doc = loadCompose(VARS);
  const services = Object.entries(doc.services);

  it('validates against the Compose Specification schema', () => {
    const validate = givenValidator();
    const ok = validate(raw);
    assert.ok(ok, JSON.stringify(validate.errors, null, 1));
  });

  it('the schema is not vacuous: malformed settings are rejected', () => {
    const validate = givenValidator();
    const bad = structuredClone(raw) as ComposeDoc;
    (bad.services[MAIN] as Record<string, unknown>).cap_drop = 'ALL';
    (bad.services[MAIN] as Record<string, unknown>).no_such_key = true;
    assert.equal(validate(bad), false);
  });

  it('requires MTLS_ALLOWED_SUBJECTS (interpolation fails without it)', () => {
    assert.throws(() => loadCompose({}), /MTLS_ALLOWED_SUBJECTS/);
    assert.equal(interpolate('a ${X:-d} ${Y} $$Z', {Y: 'y'}), 'a d y $Z');
  });

  for (const [name, svc] of services) {
    describe(`service ${name}`, () => {
      it('read_only root, numeric non-root user, cap_drop ALL, no cap_add, no-new-privileges', () => {
        assert.equal(svc.read_only, true);
        assert.equal(svc.user, '10001:10001');
        assert.deepEqual(svc.cap_drop, ['ALL']);
        assert.equal(svc.cap_add, undefined);
        assert.ok((svc.security_opt as string[]).includes('no-new-privileges:true'));
        assert.ok(!(svc.security_opt as string[]).some(s => /unconfined|seccomp[:=]unconfined|apparmor[:=]unconfined|label[:=]disable/.test(s)));
      });

      it('tmpfs /tmp is small, noexec, nosuid, nodev', () => {
        const tmp = (svc.tmpfs as string[]).find(t => t.startsWith('/tmp:'));
        assert.ok(tmp, 'a /tmp tmpfs');
        const opts = tmp!.slice('/tmp:'.length).split(',');
        for (const o of ['noexec', 'nosuid', 'nodev']) assert.ok(opts.includes(o), o);
        const size = opts.find(o => o.startsWith('size='));
        assert.match(size ?? '', /^size=\d+[km]$/);
      });

      it('pids, memory and CPU limits; restart policy bounded; log size limited', () => {
        assert.ok(Number(svc.pids_limit) > 0 && Number(svc.pids_limit) <= 1024);
        assert.match(String(svc.mem_limit), /^\d+[mg]$/);
        assert.ok(Number(svc.cpus) > 0);
        assert.match(String(svc.restart), /^(on-failure(:\d+)?|unless-stopped)$/);
        const logging = svc.logging as {options: Record<string, string>};
        assert.match(logging.options['max-size'], /^\d+[km]$/);
        assert.ok(Number(logging.options['max-file']) >= 1);
      });

      it('no host namespaces, no privileged mode, no devices', () => {
        for (const k of ['network_mode', 'pid', 'userns_mode', 'cgroup', 'uts']) assert.notEqual(svc[k], 'host', k);
        assert.notEqual(svc.ipc, 'host');
        assert.notEqual(svc.privileged, true);
        assert.equal(svc.devices, undefined);
        assert.equal(svc.sysctls, undefined);
      });

      it('mounts only read-only binds; no runtime socket, no sensitive host path', () => {
        for (const v of (svc.volumes ?? []) as {type: string; source: string; target: string; read_only: boolean}[]) {
          assert.equal(typeof v, 'object', 'long syntax');
          assert.equal(v.type, 'bind');
          assert.equal(v.read_only, true, `${v.target} read-only`);
          assert.doesNotMatch(`${v.source} ${v.target}`, /docker\.sock|containerd|crio|podman|kubelet/);
          assert.ok(!SENSITIVE.test(v.source), `${v.source} is not a host system path`);
          assert.ok(path.resolve(REPO_ROOT, v.source).startsWith(REPO_ROOT + path.sep), `${v.source} defaults inside the project`);
          assert.match(v.target, /^\/etc\/(hardened-mtls|ocsp)(\/|$)/);
        }
      });
    });
  }

  it('the service: production, posture enforce, certificates mounted, nothing published, mTLS health check', () => {
    const svc = doc.services[MAIN] as Record<string, any>;
    assert.equal(svc.environment.NODE_ENV, 'production');
    assert.equal(svc.environment.POSTURE_MODE, 'enforce');
    assert.ok(String(svc.environment.TLS_KEY_FILE).startsWith('/etc/hardened-mtls/tls/'));
    assert.equal(svc.ports, undefined, 'the service publishes nothing: ingress-relay does');
    assert.deepEqual(doc.services[RELAY].ports, ['127.0.0.1:8443:8443']);
    assert.deepEqual(svc.healthcheck.test, ['CMD', '/nodejs/bin/node', '/app/dist/src/posture/healthcheck.js']);
  });

  it('the service image is the versioned tag of package.json (no `latest`, no build + image together); init; the project seccomp profile', () => {
    const svc = doc.services[MAIN] as Record<string, any>;
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string};
    assert.equal(svc.image, `localhost/hardened-mtls:${pkg.version}`);
    assert.equal(svc.build, undefined);
    assert.equal(svc.init, true);
    assert.ok((svc.security_opt as string[]).includes('seccomp=./deploy/seccomp/hardened-mtls.json'));
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'deploy', 'seccomp', 'hardened-mtls.json')));
    assert.equal(svc.environment.POSTURE_ACCEPT_UNPROVEN, 'userns-restricted,ptrace-restricted');
    for (const s of Object.values(doc.services) as Record<string, any>[]) assert.doesNotMatch(String(s.image), /:latest$|^[^:@]+$/);
  });

  it('egress: the service joins only internal networks; only the relays join a non-internal one', () => {
    const nets = doc.networks as Record<string, {internal?: boolean; driver_opts?: Record<string, string>}>;
    const internal = (n: string) => nets[n]?.internal === true;
    for (const [name, svc] of services) {
      for (const n of serviceNetworks(svc)) assert.ok(n in nets, `${name}: network ${n} is declared`);
      assert.ok(serviceNetworks(svc).length > 0, `${name} joins declared networks, never the default bridge`);
    }
    assert.deepEqual(serviceNetworks(doc.services[MAIN]).sort(), ['app', 'ocsp']);
    assert.ok(serviceNetworks(doc.services[MAIN]).every(internal), 'the service has no non-internal network');
    assert.equal(doc.services[MAIN].network_mode, undefined);
    // who sits on a network with a route out, and why
    const outside = services.filter(([, svc]) => serviceNetworks(svc).some(n => !internal(n))).map(([name]) => name);
    assert.deepEqual(outside.sort(), [RELAY, EGRESS].sort());
    assert.deepEqual(
      serviceNetworks(doc.services[RELAY]).filter(n => !internal(n)),
      ['edge'],
    );
    assert.deepEqual(
      serviceNetworks(doc.services[EGRESS]).filter(n => !internal(n)),
      ['outbound'],
    );
    // published ports only on the ingress relay, on loopback
    assert.deepEqual(
      services.filter(([, svc]) => svc.ports !== undefined).map(([name]) => name),
      [RELAY],
    );
    // the edge network does not masquerade (Docker's bridge driver)
    assert.equal(nets.edge.driver_opts?.['com.docker.network.bridge.enable_ip_masquerade'], 'false');
    assert.equal(internal('edge'), false);
    assert.equal(internal('app') && internal('ocsp'), true);
  });

  it("ingress-relay: the image's relay module, a fixed target on a shared internal network, validated limits", () => {
    const relay = doc.services[RELAY] as Record<string, any>;
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string};
    assert.equal(relay.image, `localhost/hardened-mtls:${pkg.version}`);
    assert.deepEqual(podmanCommand(relay), RELAY_COMMAND);
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'src', 'relay', 'tcp-relay.ts')));
    const cfg = parseRelayConfig(relay.environment);
    assert.deepEqual(cfg.target, {host: MAIN, port: 8443});
    assert.equal(cfg.listen.port, 8443);
    assert.ok(cfg.maxConnections <= 1024);
    // the target is reachable: relay and service share an internal network
    const shared = serviceNetworks(relay).filter(n => serviceNetworks(doc.services[MAIN]).includes(n));
    assert.deepEqual(shared, ['app']);
    assert.deepEqual(relay.healthcheck.test, ['CMD', ...RELAY_COMMAND, '--health']);
    assert.equal(relay.init, true);
    assert.ok((relay.security_opt as string[]).includes('seccomp=./deploy/seccomp/hardened-mtls.json'));
    // two sockets per relayed connection must fit the fd limit
    assert.ok(relay.ulimits.nofile.hard >= 2 * cfg.maxConnections + 64);
  });

  it('ocsp-egress: only under its profile, on `ocsp` + `outbound`, to ONE configured host:port (none: exit 78)', () => {
    const eg = doc.services[EGRESS] as Record<string, any>;
    assert.deepEqual(eg.profiles, ['ocsp-egress']);
    assert.deepEqual(podmanCommand(eg), RELAY_COMMAND);
    assert.deepEqual(serviceNetworks(eg).sort(), ['ocsp', 'outbound']);
    assert.throws(
      () => parseRelayConfig(eg.environment),
      (e: {code?: string}) => e.code === 'CONFIG_MISSING',
    );
    const withUpstream = loadCompose({...VARS, OCSP_UPSTREAM: 'ocsp.example.org:80'}).services[EGRESS] as Record<string, any>;
    assert.deepEqual(parseRelayConfig(withUpstream.environment).target, {host: 'ocsp.example.org', port: 80});
    // the service's outbound policy re-opens exactly the ocsp network's pinned subnet
    const subnet = (doc.networks!.ocsp as {ipam: {config: {subnet: string}[]}}).ipam.config[0].subnet;
    assert.equal((doc.services[MAIN] as Record<string, any>).environment.OUTBOUND_ALLOWED_CIDRS, subnet);
    // the relays on `ocsp` have fixed addresses inside that subnet (the service names them by IP:
    // its outbound policy refuses single-label names)
    for (const svc of [eg, doc.services['ocsp-responder'] as Record<string, any>]) {
      const addr = ipaddr.parse(svc.networks.ocsp.ipv4_address as string);
      assert.ok(addr.match(ipaddr.parseCIDR(subnet)), `${svc.networks.ocsp.ipv4_address} in ${subnet}`);
    }
    const other = loadCompose({...VARS, OCSP_SUBNET: '10.250.0.0/28'});
    assert.equal((other.services[MAIN] as Record<string, any>).environment.OUTBOUND_ALLOWED_CIDRS, '10.250.0.0/28');
  });

  it('the OCSP demo runs only under its profile, on an internal network', () => {
    const ocsp = doc.services['ocsp-responder'] as Record<string, any>;
    assert.deepEqual(ocsp.profiles, ['ocsp-demo']);
    assert.deepEqual(serviceNetworks(ocsp), ['ocsp']);
    assert.equal((doc.networks!.ocsp as {internal: boolean}).internal, true);
    assert.equal(doc.services[MAIN].profiles, undefined);
  });

  it('translates the service into the podman flags the container tier uses', () => {
    const a = podmanRunArgs(doc.services[MAIN], {network: 'net-x', name: 'ctr-x', hostPort: () => 18443});
    const has = (...flag: string[]) => {
      for (let i = 0; i + flag.length <= a.length; i++) if (flag.every((f, j) => a[i + j] === f)) return true;
      return false;
    };
    assert.ok(has('--read-only', '--read-only-tmpfs=false'));
    assert.ok(has('--user', '10001:10001'));
    assert.ok(has('--cap-drop', 'ALL'));
    assert.ok(has('--security-opt', 'no-new-privileges:true'));
    assert.ok(has('--security-opt', `seccomp=${path.join(REPO_ROOT, 'deploy', 'seccomp', 'hardened-mtls.json')}`));
    assert.ok(has('--init'));
    assert.ok(has('--tmpfs', '/tmp:size=16m,mode=1777,noexec,nosuid,nodev'));
    assert.ok(has('--pids-limit', '256'));
    assert.ok(has('--memory', '512m'));
    assert.ok(has('--network', 'net-x'));
    assert.ok(!a.includes('--publish'));
    const r = podmanRunArgs(doc.services[RELAY], {network: 'net-x', name: 'r', hostPort: () => 18443});
    assert.ok(r.includes('--publish') && r[r.indexOf('--publish') + 1] === '127.0.0.1:18443:8443');
    assert.ok(has('--env', 'POSTURE_MODE=enforce'));
    assert.ok(a.some(x => /:\/etc\/hardened-mtls\/tls:ro$/.test(x)));
    assert.ok(!a.includes('--privileged'));
    assert.throws(() => podmanRunArgs({...doc.services[MAIN], oom_kill_disable: true}, {network: 'n', name: 'c'}), /oom_kill_disable/);
  });

  it('translates declared networks to the test networks standing for them (every one mapped), with the service name as alias', () => {
    const a = podmanRunArgs(doc.services[RELAY], {networks: {edge: 'test-edge', app: 'test-app'}, alias: RELAY, name: 'r'});
    const nets = a.flatMap((x, i) => (x === '--network' ? [a[i + 1]] : []));
    assert.deepEqual(nets, ['test-edge', 'test-app']);
    assert.equal(a[a.indexOf('--network-alias') + 1], RELAY);
    assert.ok(!a.includes('/app/dist/src/relay/tcp-relay.js'), 'command is not a flag');
    assert.throws(() => podmanRunArgs(doc.services[RELAY], {networks: {app: 'test-app'}, name: 'r'}), /edge is not mapped/);
    assert.throws(() => podmanRunArgs({...doc.services[RELAY], networks: undefined}, {networks: {app: 'x'}, name: 'r'}), /declares none/);
    const e = podmanRunArgs(doc.services[EGRESS], {networks: {ocsp: 'test-ocsp', outbound: 'test-out'}, name: 'e'});
    assert.deepEqual(
      e.flatMap((x, i) => (x === '--network' ? [e[i + 1]] : [])),
      ['test-ocsp:ip=172.31.250.10', 'test-out'],
    );
  });
});
