/**
 * The product harness: canaries that count, a fallback that still lands on a canary when a real
 * port is taken, a connect shim that never leaves loopback, a stub resolver with rebinding
 * sequences, and a fake upstream with per-path answers.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {dnsTable, loadCatalog} from '../../src/escape/catalog';
import {EscapeHarness, startEscapeHarness, upstreamRoutesFor} from '../../src/escape/harness';

function connectOnce(opts: net.NetConnectOpts): Promise<void> {
  return new Promise(resolve => {
    const s = net.connect(opts);
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

describe('escape: harness (escape)', function () {
  this.timeout(30_000);
  let a: EscapeHarness;
  let b: EscapeHarness;

  before(async () => {
    a = await startEscapeHarness({dns: dnsTable(loadCatalog().cases)});
    b = await startEscapeHarness({dns: {'rebind.test': {sequence: [['93.184.215.14'], ['127.0.0.1']]}}});
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });
  beforeEach(() => {
    a.reset();
    b.reset();
  });

  it('canaries count connections on their real address and on the unix socket', async () => {
    const fixed = a.canaries.find(c => c.key === '127.0.0.1:2375')!;
    await connectOnce({host: fixed.host, port: fixed.port});
    await connectOnce({path: a.unixSocketPath});
    assert.equal(a.canaryCounts()['127.0.0.1:2375'], 1);
    assert.equal(a.canaryCounts().unix, 1);
    assert.equal(a.totalCanaryConnections(), 2);
  });

  it('a taken port falls back to an ephemeral canary that the shim still reaches (and strictPorts refuses)', async () => {
    // `a` holds the real ports (or something else does): `b` cannot have them.
    const moved = b.canaries.find(c => c.key === '127.0.0.1:2375')!;
    assert.equal(moved.bound, 'ephemeral');
    assert.match(moved.fallbackReason ?? '', /EADDRINUSE/);
    const to = b.connectShim({hostname: '127.0.0.1', address: '127.0.0.1', family: 4, port: 2375});
    await connectOnce({host: to.host, port: to.port});
    assert.equal(b.canaryCounts()['127.0.0.1:2375'], 1);
    assert.equal(a.canaryCounts()['127.0.0.1:2375'], 0, 'never the process that holds the real port');
    await assert.rejects(startEscapeHarness({strictPorts: true}), /could not listen: canary 127\.0\.0\.1:80: EADDRINUSE/);
  });

  it('the shim sends other loopback ports to a catch-all canary, public addresses to the fake upstream, and refuses the rest', async () => {
    const any = a.connectShim({hostname: 'x', address: '127.0.0.9', family: 4, port: 5432});
    await connectOnce({host: any.host, port: any.port});
    assert.equal(a.canaryCounts()['127.0.0.1:*'], 1);
    const v6 = a.connectShim({hostname: 'x', address: '::1', family: 6, port: 5432});
    assert.equal(v6.host, '::1');
    const pub = a.connectShim({hostname: 'public.test', address: '93.184.215.14', family: 4, port: 80});
    assert.equal(pub.host, '127.0.0.1');
    assert.throws(() => a.connectShim({hostname: 'x', address: '169.254.169.254', family: 4, port: 80}), /refusing/);
    assert.deepEqual(a.blockedConnects, ['169.254.169.254:80']);
    assert.equal(a.internalConnectionAttempts(), 2);
  });

  it('the stub resolver answers the catalog, public.test, rebinding sequences, and NXDOMAIN', async () => {
    assert.deepEqual(await a.lookup('SM-005.invalid').catch((e: NodeJS.ErrnoException) => e.code), 'ENOTFOUND');
    assert.deepEqual(
      (await a.lookup('metadata.google.internal')).map(x => x.address),
      ['169.254.169.254'],
    );
    assert.deepEqual(
      (await a.lookup('cdn.public.test')).map(x => x.address),
      ['93.184.215.14'],
    );
    assert.deepEqual(
      (await a.lookup('ip6-localhost')).map(x => x.family),
      [6],
    );
    assert.deepEqual(
      (await b.lookup('rebind.test')).map(x => x.address),
      ['93.184.215.14'],
    );
    assert.deepEqual(
      (await b.lookup('rebind.test')).map(x => x.address),
      ['127.0.0.1'],
    );
    assert.deepEqual(b.lookups, ['rebind.test', 'rebind.test']);
  });

  it('the fake upstream serves the redirect chain of a case and logs every request', async () => {
    const sr8 = loadCatalog().cases.find(c => c.id === 'SR-008')!;
    assert.deepEqual(
      upstreamRoutesFor(sr8).map(([p, r]) => [p, r.status, r.headers?.location]),
      [
        ['/redirect/8', 303, 'http://public.test/step2'],
        ['/step2', 302, 'http://127.0.0.1/'],
      ],
    );
    a.prepare(sr8);
    const to = a.connectShim({hostname: 'public.test', address: '93.184.215.14', family: 4, port: 80});
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get({host: to.host, port: to.port, path: '/redirect/8', headers: {host: 'public.test'}}, res => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject);
    });
    assert.equal(status, 303);
    assert.deepEqual(
      a.upstream.requests.map(r => [r.method, r.path, r.host, r.tls]),
      [['GET', '/redirect/8', 'public.test', false]],
    );
    a.reset();
    assert.equal(a.upstream.requests.length, 0);
  });
});
