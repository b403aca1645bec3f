/**
 * Graceful shutdown under load: SIGTERM arrives while 20 clients send requests (kept-alive and new
 * connections, 4-8 KiB responses and request bodies), while one client is mid-way through a
 * request body, one has stalled its body, one completed TLS and sent nothing, and one opened a
 * TCP connection and never started TLS.
 *
 * Every request the service accepted completes (its whole Content-Length arrives) or its
 * connection is closed cleanly before any response byte; nothing is cut mid-body; the client
 * mid-body finishes and gets its answer; the process exits 0 within SHUTDOWN_TIMEOUT_MS (main()
 * exits 1 if shutdown overruns the bound by 5 s, so exit code 0 means it kept the bound).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import {Load, LoadWorkerSpec, OutcomeKind, tally} from '../../fixtures/load';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {recordSection} from '../../fixtures/reliability-report';
import {givenService, ServiceHandle} from '../../fixtures/service';
import {HttpResult, NoResponse, TlsHttpConnection} from '../../fixtures/tls-client';
import {fatalLines, logMark, stderrLines, waitForLogAfter} from './helpers';

const BOUND_MS = 3000;

describe('reliability: graceful shutdown under load (acceptance)', function () {
  this.timeout(180_000);
  let pki: DevPkiManifest;
  let svc: ServiceHandle;
  let load: Load;
  let exit: {code: number | null; signal: NodeJS.Signals | null};
  let exitAfterMs = 0;
  let midBody: HttpResult | NoResponse;
  let stalled: HttpResult | NoResponse;
  let idleTlsClosed = false;
  let preHandshakeClosed = false;
  const midBodyPayload = JSON.stringify({note: 'm'.repeat(6000)});

  before(async () => {
    pki = await givenTestPki();
    svc = await givenService(
      givenMtlsEnv(pki, {
        SHUTDOWN_TIMEOUT_MS: String(BOUND_MS),
        // The stalled body must be ended by the shutdown bound, not by the request timeout.
        HTTP_REQUEST_TIMEOUT_MS: '120000',
      }),
    );
    const as = (name: 'valid' | 'valid2' | 'health' | 'rsa-2048') => ({port: svc.port, ...givenClient(pki, name)});
    const request = (n: number) =>
      n % 2 === 0
        ? {target: `/search?q=${'q'.repeat(4096 + (n % 4096))}`}
        : {
            method: 'POST',
            target: '/echo',
            headers: [['Content-Type', 'application/json']] as [string, string][],
            body: JSON.stringify({n, pad: 'p'.repeat(8192)}),
          };
    const workers: LoadWorkerSpec[] = [
      ...Array.from({length: 16}, (): LoadWorkerSpec => ({group: 'valid', tls: as('valid'), mode: 'keep-alive', request})),
      ...Array.from({length: 4}, (): LoadWorkerSpec => ({group: 'valid', tls: as('valid'), mode: 'new-connection', request})),
    ];
    load = Load.start(workers, {failureBackoffMs: 10});
    await load.progress(['valid'], 40, 120_000);

    // A client mid-way through its request body when SIGTERM arrives. `Expect: 100-continue`
    // makes the service confirm it has parsed the request head (and counts the request as in
    // flight) before any body byte is sent; the body is buffered by the guard before
    // authentication, so no audit line can mark that point.
    const startBody = async (conn: TlsHttpConnection, length: number) => {
      const interim = conn.awaitResponse(30_000);
      conn.write(
        `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`,
      );
      const r = await interim;
      assert.equal(r.outcome === 'response' && r.status, 100, `no 100 Continue: ${JSON.stringify(r)}`);
    };
    const mid = await TlsHttpConnection.open(as('health'));
    await startBody(mid, midBodyPayload.length);
    mid.write(midBodyPayload.slice(0, 3000));
    // A client that stalls its body for good.
    const stall = await TlsHttpConnection.open(as('valid2'));
    await startBody(stall, 5000);
    stall.write('{"a":"');
    const stalledResponse = stall.awaitResponse(60_000);
    // A client that completed TLS and sends nothing, and one that never starts TLS.
    const idle = await TlsHttpConnection.open(as('rsa-2048'));
    idle.socket.once('close', () => (idleTlsClosed = true));
    const raw = net.connect(svc.port, '127.0.0.1');
    raw.on('error', () => undefined);
    raw.once('close', () => (preHandshakeClosed = true));
    await new Promise(r => raw.once('connect', r));

    const mark = logMark(svc);
    const t0 = Date.now();
    svc.signal('SIGTERM');
    const killer = setTimeout(() => svc.child.kill('SIGKILL'), BOUND_MS + 30_000);
    await waitForLogAfter(svc, mark, l => l.event === 'shutdown');
    // The client mid-body finishes after shutdown began.
    const midResponse = mid.awaitResponse(60_000);
    mid.write(midBodyPayload.slice(3000));
    [midBody, stalled, exit] = await Promise.all([midResponse, stalledResponse, svc.exited]);
    exitAfterMs = Date.now() - t0;
    clearTimeout(killer);
    await load.stop();
    for (const c of [mid, stall, idle]) c.close();
    raw.destroy();
  });

  after(async () => {
    await load?.stop();
    await svc?.stop();
    if (!load) return;
    const records = load.of('valid');
    const cut = records.filter(r => r.kind === 'cut-mid-body' || r.kind === 'cut-mid-headers' || r.kind === 'timeout');
    const allowed = svc.logs.filter(l => l.event === 'auth.decision' && l.decision === 'allow' && l.serial === pki.clients.valid.serialHex).length;
    const ok = records.filter(r => r.kind === 'response' && r.status === 200).length;
    recordSection({
      id: 'shutdown',
      title: 'Graceful shutdown under load',
      claim: `SIGTERM while 20 clients send requests (4-8 KiB bodies each way), one client is mid-body, one has stalled its body, one sent nothing after TLS and one never started TLS; SHUTDOWN_TIMEOUT_MS=${BOUND_MS}.`,
      source: 'test/acceptance/reliability/shutdown-under-load.acceptance.test.ts',
      figures: {
        cases: 5,
        requests: records.length + 2,
        failures:
          cut.length + records.filter(r => r.kind === 'response' && r.status !== 200).length + Math.abs(allowed - ok) + (exit?.code === 0 ? 0 : 1),
        'requests accepted by the service (audit allow lines)': allowed,
        'responses received whole (Content-Length matched)': ok,
        'responses cut mid-body or mid-headers': cut.length,
        'exit code': String(exit?.code),
        'SIGTERM to exit (ms, informative)': exitAfterMs,
      },
      tables: [
        {
          columns: ['client outcome', 'count'],
          rows: Object.entries(tally(records)).map(([k, v]) => [k === '200' ? 'HTTP 200, complete' : k, v]),
        },
      ],
      notes: [
        'closed-before-response: the server closed the kept-alive connection before the request was read (clean close, nothing processed); connect-failed: refused after the listener closed.',
        `client mid-body at SIGTERM: ${midBody && midBody.outcome === 'response' ? `HTTP ${midBody.status}, Connection: ${midBody.headers.connection}` : 'no response'}; client with a stalled body: ${stalled?.outcome ?? '?'}.`,
      ],
    });
  });

  it('exits with code 0 within the bound (main() would exit 1 past bound + 5 s)', () => {
    assert.deepEqual(exit, {code: 0, signal: null});
    assert.deepEqual(fatalLines(svc), []);
    assert.deepEqual(stderrLines(svc), []);
    assert.ok(svc.logs.some(l => l.event === 'shutdown.complete'));
  });

  it('no response was cut: every response arrived whole, every other request saw a clean close', () => {
    const records = load.of('valid');
    const allowedKinds: OutcomeKind[] = ['response', 'closed-before-response', 'connect-failed'];
    assert.deepEqual(
      records.filter(r => !allowedKinds.includes(r.kind)).map(r => `${r.kind} ${r.receivedBytes}/${r.expectedBytes}`),
      [],
    );
    assert.deepEqual(
      records.filter(r => r.kind === 'response' && r.status !== 200).map(r => r.status),
      [],
    );
    assert.equal(load.unsolicitedBytes.total, 0);
  });

  it('every request the service accepted was answered completely', () => {
    const allowed = svc.logs.filter(l => l.event === 'auth.decision' && l.decision === 'allow' && l.serial === pki.clients.valid.serialHex).length;
    const ok = load.of('valid').filter(r => r.kind === 'response' && r.status === 200).length;
    assert.equal(allowed, ok, 'requests accepted (audited) vs responses received whole');
  });

  it('the client mid-body when SIGTERM arrived finishes and gets its answer, told to close', () => {
    assert.equal(midBody.outcome, 'response');
    const r = midBody as HttpResult;
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {received: true, keys: ['note']});
    assert.equal(r.headers.connection, 'close');
  });

  it('a stalled body, a silent TLS client and a client that never started TLS are closed by the bound', () => {
    assert.equal(stalled.outcome, 'no-response');
    assert.equal(idleTlsClosed, true);
    assert.equal(preHandshakeClosed, true);
  });
});
