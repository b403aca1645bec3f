/**
 * OutboundClient against the real escape harness: loopback canaries, a stub resolver, a fake
 * public upstream (TLS with a CA made at start-up), undici doing real connections.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type {OutboundConfig} from '../../../src/config/config';
import {AppError, isAppError} from '../../../src/errors';
import {OutboundClient, OutboundDeps} from '../../../src/outbound/outbound-client';
import {CatalogCase, EscapeHarness, givenEscapeHarness, upstreamRoutesFor} from '../../fixtures/escape-harness';
import {CapturedLog, givenCapturingLogger} from '../guards/support';

const CFG: OutboundConfig = Object.freeze({
  allowedHosts: null,
  allowHttp: true,
  allowedPorts: [80, 443],
  allowedCidrs: [],
  timeoutMs: 5000,
  maxResponseBytes: 65536,
});

async function expectAppError(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isAppError(e), `expected an AppError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

function connectOnce(opts: net.NetConnectOpts): Promise<void> {
  return new Promise(resolve => {
    const s = net.connect(opts);
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

describe('outbound: OutboundClient with the escape harness (integration)', function () {
  let h: EscapeHarness;
  let log: CapturedLog;
  let client: OutboundClient;
  const deps = (): OutboundDeps => ({lookup: h.lookup, connectShim: h.connectShim, ca: h.ca});

  before(async () => {
    h = await givenEscapeHarness();
    log = givenCapturingLogger();
    client = new OutboundClient(CFG, log.logger, deps());
  });
  after(async () => {
    await client?.close();
    await h?.close();
  });
  beforeEach(() => {
    h.reset();
    log.clear();
  });
  afterEach(() => {
    assert.deepEqual(h.blockedConnects, [], 'the shim refused a non-loopback destination');
  });

  describe('harness self-checks (the counters can fail)', () => {
    it('counts a direct connection to every TCP canary and the unix canary', async () => {
      await connectOnce({host: '127.0.0.1', port: 2375});
      await connectOnce({host: '::1', port: 10250});
      await connectOnce({path: h.unixSocketPath});
      const c = h.canaryCounts();
      assert.equal(c['127.0.0.1:2375'], 1);
      assert.equal(c['[::1]:10250'], 1);
      assert.equal(c.unix, 1);
      assert.equal(h.totalCanaryConnections(), 3);
    });

    it('sees a leak when an operator exception opens loopback (so zero really means zero)', async () => {
      const leaky = new OutboundClient({...CFG, allowedCidrs: ['127.0.0.0/8'], allowedPorts: [2375]}, log.logger, deps());
      try {
        const err = await expectAppError(leaky.fetch('http://127.0.0.1:2375/version'));
        assert.equal(err.code, 'SSRF_UPSTREAM_ERROR');
        assert.equal(h.canaryCounts()['127.0.0.1:2375'], 1);
      } finally {
        await leaky.close();
      }
    });

    it('resolves public.test subdomains to the fake public address and everything else to NXDOMAIN', async () => {
      assert.deepEqual(await h.lookup('a.b.public.test'), [{address: '93.184.215.14', family: 4}]);
      await assert.rejects(h.lookup('nowhere.example'), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
    });
  });

  describe('every url-param reference case', () => {
    let cases: CatalogCase[] = [];
    before(() => {
      cases = h.catalog.filter(c => c.vector === 'url-param');
      assert.ok(cases.length >= 149, `expected the url-param cases, found ${cases.length}`);
    });

    it('rejects or neutralises every reject case with zero canary connections', async () => {
      const failures: string[] = [];
      for (const c of cases.filter(x => x.expected === 'reject')) {
        h.reset();
        for (const [p, a] of upstreamRoutesFor(c)) h.upstream.route(p, a);
        const fresh = new OutboundClient(CFG, log.logger, deps());
        try {
          let outcome: string;
          try {
            const res = await fresh.fetch(c.payload, {purpose: c.id});
            outcome = `status ${res.status}`;
            if (c.expect_detail === '4xx|no-follow') {
              if (!(res.status >= 300 && res.status < 400)) failures.push(`${c.id}: expected the 3xx passed back, got ${res.status}`);
              if (res.location !== c.upstream?.location?.split(' ')[0]) failures.push(`${c.id}: Location not passed back as is`);
              if (h.upstream.requests.length !== 1) failures.push(`${c.id}: upstream saw ${h.upstream.requests.length} requests`);
            } else if (c.expect_detail !== 'no-internal-connection') {
              failures.push(`${c.id}: expected a rejection, got ${outcome}`);
            }
          } catch (e) {
            if (!isAppError(e) || !e.code.startsWith('SSRF_') || e.statusCode < 400 || e.statusCode > 499) {
              failures.push(`${c.id}: expected an SSRF_* 4xx AppError, got ${isAppError(e) ? e.code : String(e)}`);
            }
          }
          if (h.totalCanaryConnections() !== 0) failures.push(`${c.id}: canaries saw ${JSON.stringify(h.canaryCounts())}`);
          if (h.blockedConnects.length !== 0) failures.push(`${c.id}: tried to leave loopback: ${h.blockedConnects.join(',')}`);
        } finally {
          await fresh.close();
        }
      }
      assert.deepEqual(failures, []);
    });

    it('lets every benign control through to the fake upstream exactly once', async () => {
      const failures: string[] = [];
      for (const c of cases.filter(x => x.expected === 'allow')) {
        h.reset();
        const fresh = new OutboundClient(CFG, log.logger, deps());
        try {
          const res = await fresh.fetch(c.payload, {purpose: c.id});
          if (res.status !== 200) failures.push(`${c.id}: status ${res.status}`);
          if (h.upstream.requests.length !== 1) failures.push(`${c.id}: upstream saw ${h.upstream.requests.length} requests`);
          if (!res.body.toString().includes('fake-public')) failures.push(`${c.id}: not the fake upstream's body`);
        } catch (e) {
          failures.push(`${c.id}: ${isAppError(e) ? e.code : String(e)}`);
        } finally {
          await fresh.close();
        }
        if (h.totalCanaryConnections() !== 0) failures.push(`${c.id}: canaries saw connections`);
      }
      assert.deepEqual(failures, []);
    });
  });

  describe('DNS rebinding (SD-010)', () => {
    it('connects to the address it checked and never re-resolves for that connection', async () => {
      const res = await client.fetch('http://rebind.test/', {purpose: 'SD-010'});
      assert.equal(res.status, 200);
      assert.equal(h.upstream.requests.length, 1);
      assert.deepEqual(
        h.lookups.filter(n => n === 'rebind.test'),
        ['rebind.test'],
      );
      assert.equal(h.totalCanaryConnections(), 0);
    });

    it('checks the rebound answer on the next connection and denies it', async () => {
      const first = new OutboundClient(CFG, log.logger, deps());
      const second = new OutboundClient(CFG, log.logger, deps());
      try {
        assert.equal((await first.fetch('http://rebind.test/')).status, 200);
        const err = await expectAppError(second.fetch('http://rebind.test/'));
        assert.equal(err.code, 'SSRF_ADDRESS_DENIED');
        assert.equal(h.totalCanaryConnections(), 0);
      } finally {
        await first.close();
        await second.close();
      }
    });
  });

  describe('bounds, redirects, TLS and audit', () => {
    it("turns a redirect into SSRF_REDIRECT_DENIED with redirect: 'error'", async () => {
      h.upstream.route('/r', {status: 302, headers: {location: 'http://127.0.0.1:2375/'}});
      const err = await expectAppError(client.fetch('https://public.test/r', {redirect: 'error'}));
      assert.equal(err.code, 'SSRF_REDIRECT_DENIED');
      assert.equal(h.totalCanaryConnections(), 0);
    });

    it('refuses a response larger than the bound, or truncates it on request', async () => {
      h.upstream.route('/big', {status: 200, headers: {'content-type': 'application/octet-stream'}, body: Buffer.alloc(200_000, 0x61)});
      const err = await expectAppError(client.fetch('https://public.test/big'));
      assert.equal(err.code, 'SSRF_RESPONSE_TOO_LARGE');
      const res = await client.fetch('https://public.test/big', {overflow: 'truncate', maxBytes: 1024});
      assert.equal(res.truncated, true);
      assert.equal(res.body.length, 1024);
    });

    it('refuses a chunked response that grows past the bound', async () => {
      h.upstream.route('/chunked', {status: 200, headers: {'transfer-encoding': 'chunked'}, body: Buffer.alloc(100_000, 0x62)});
      const err = await expectAppError(client.fetch('https://public.test/chunked'));
      assert.equal(err.code, 'SSRF_RESPONSE_TOO_LARGE');
    });

    it('times out an upstream that never answers', async () => {
      h.upstream.route('/hang', {status: 200, hang: true});
      const err = await expectAppError(client.fetch('https://public.test/hang', {timeoutMs: 300}));
      assert.equal(err.code, 'SSRF_UPSTREAM_TIMEOUT');
    });

    it('sends POST bodies (OCSP-style) and returns status, content type and body', async () => {
      h.upstream.route('/ocsp', {status: 200, headers: {'content-type': 'application/ocsp-response'}, body: 'resp'});
      const res = await client.fetch('https://ocsp.public.test/ocsp', {
        method: 'POST',
        headers: {'content-type': 'application/ocsp-request'},
        body: Buffer.from('req-bytes'),
        purpose: 'ocsp',
      });
      assert.equal(res.status, 200);
      assert.equal(res.contentType, 'application/ocsp-response');
      assert.equal(res.body.toString(), 'resp');
      assert.equal(h.upstream.requests[0].method, 'POST');
      assert.equal(h.upstream.requests[0].body, 'req-bytes');
    });

    it('verifies the upstream certificate against the URL host', async () => {
      const lookup = async (name: string) => (name === 'impostor.example' ? [{address: '93.184.215.14', family: 4}] : h.lookup(name));
      const c = new OutboundClient(CFG, log.logger, {...deps(), lookup});
      try {
        const err = await expectAppError(c.fetch('https://impostor.example/'));
        assert.equal(err.code, 'SSRF_UPSTREAM_ERROR');
        assert.equal(h.upstream.requests.length, 0);
      } finally {
        await c.close();
      }
    });

    it('reports an unresolvable host as SSRF_DNS_FAILED', async () => {
      const err = await expectAppError(client.fetch('https://nowhere.example/'));
      assert.equal(err.code, 'SSRF_DNS_FAILED');
    });

    it('refuses caller headers that would re-route the request', async () => {
      const err = await expectAppError(client.fetch('https://public.test/', {headers: {Host: '127.0.0.1'}}));
      assert.equal(err.code, 'SSRF_URL_INVALID');
      assert.equal(h.upstream.requests.length, 0);
    });

    it('honours the host allow-list and the operator CIDR exception (which never re-opens metadata)', async () => {
      const listed = new OutboundClient({...CFG, allowedHosts: ['public.test']}, log.logger, deps());
      const meta = new OutboundClient({...CFG, allowedCidrs: ['169.254.0.0/16']}, log.logger, deps());
      try {
        assert.equal((await listed.fetch('https://public.test/')).status, 200);
        assert.equal((await expectAppError(listed.fetch('https://metadata.public.test/'))).code, 'SSRF_HOST_DENIED');
        assert.equal((await expectAppError(meta.fetch('http://169.254.169.254/latest/meta-data/'))).code, 'SSRF_ADDRESS_DENIED');
      } finally {
        await listed.close();
        await meta.close();
      }
    });

    it('writes one audit line per decision, without the path or query', async () => {
      await expectAppError(client.fetch('http://169.254.169.254/latest/meta-data/iam/security-credentials/?token=s3cr3t'));
      await client.fetch('https://public.test/items?token=s3cr3t', {purpose: 'demo'});
      const audits = log.lines.filter(l => l.audit === true);
      const deny = audits.find(l => l.event === 'outbound.decision' && l.decision === 'deny');
      const allow = audits.find(l => l.event === 'outbound.decision' && l.decision === 'allow');
      const connect = audits.find(l => l.event === 'outbound.connect' && l.decision === 'allow');
      assert.equal(deny?.code, 'SSRF_ADDRESS_DENIED');
      assert.equal(allow?.host, 'public.test');
      assert.equal(connect?.address, '93.184.215.14');
      assert.ok(!log.text().includes('s3cr3t'), 'a query value reached the log');
      assert.ok(!log.text().includes('meta-data'), 'a path reached the log');
    });
  });
});
