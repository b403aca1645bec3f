/**
 * Hostile transport input from an authenticated (mTLS) peer, sent byte for byte: slowloris,
 * slow body, silence after TLS, silence before TLS, plain HTTP on the TLS port, oversized and
 * too many headers, oversized bodies (declared and chunked), request smuggling (CL+TE, TE
 * obfuscation, duplicate Content-Length) with a second request hidden behind the first,
 * malformed chunking, garbage after the handshake, pipelining past the per-connection cap,
 * idle keep-alive.
 *
 * The service runs with small limits from config, so every case is bounded by one of them and
 * ends quickly. Each case must be answered with its code or closed, process no smuggled request,
 * and leave a concurrent well-behaved client unaffected (every one of its requests gets 200).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import {Load, LoadRecord, tally} from '../../fixtures/load';
import {ClientCredentials, givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {Cell, recordSection} from '../../fixtures/reliability-report';
import {givenService, ServiceHandle} from '../../fixtures/service';
import {fatalLines, logMark, logsAfter, stderrLines} from './helpers';

/** The limits under test (small, so the timeouts end in about a second). */
const LIMITS = {
  HTTP_HEADERS_TIMEOUT_MS: '1000',
  HTTP_REQUEST_TIMEOUT_MS: '2000',
  HTTP_KEEPALIVE_TIMEOUT_MS: '1000',
  HTTP_MAX_HEADER_SIZE: '4096',
  HTTP_MAX_HEADERS_COUNT: '30',
  HTTP_MAX_BODY_BYTES: '4096',
  HTTP_MAX_REQUESTS_PER_SOCKET: '5',
  // Long enough for the well-behaved neighbour's handshakes on a busy 2-core machine.
  TLS_HANDSHAKE_TIMEOUT_MS: '3000',
} as const;

interface RawOutcome {
  bytes: Buffer;
  closed: boolean;
  /** Parsed responses (status + JSON error code) in arrival order. */
  responses: {status: number; code?: string; connection?: string}[];
}

/** Split a byte stream into HTTP/1.1 responses (Content-Length or chunked bodies). */
function parseResponses(buf: Buffer): RawOutcome['responses'] {
  const out: RawOutcome['responses'] = [];
  let off = 0;
  while (off < buf.length) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const lines = buf.subarray(off, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let bodyEnd = end + 4;
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      const term = buf.indexOf('0\r\n\r\n', bodyEnd);
      bodyEnd = term < 0 ? buf.length : term + 5;
    } else {
      const len = Number(headers['content-length'] ?? 0);
      body = buf.subarray(bodyEnd, bodyEnd + len).toString('utf8');
      bodyEnd += len;
    }
    let code: string | undefined;
    try {
      code = (JSON.parse(body) as {error?: {code?: string}}).error?.code;
    } catch {
      code = undefined;
    }
    out.push({status: Number(m[1]), code, connection: headers.connection});
    off = bodyEnd;
  }
  return out;
}

/**
 * Send `chunks` (one every `intervalMs`) over mTLS (or plain TCP when `creds` is null) and
 * collect everything until the server closes or `deadlineMs` passes (a safety net only: every
 * case is expected to be closed by a server limit long before).
 */
function hostile(
  port: number,
  creds: ClientCredentials | null,
  chunks: (string | Buffer)[],
  intervalMs = 0,
  deadlineMs = 20_000,
): Promise<RawOutcome> {
  return new Promise(resolve => {
    const socket: net.Socket = creds
      ? tls.connect({host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key})
      : net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(deadline);
      socket.destroy();
      const bytes = Buffer.concat(parts);
      resolve({bytes, closed, responses: parseResponses(bytes)});
    };
    const deadline = setTimeout(finish, deadlineMs);
    socket.on('data', d => parts.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    let i = 0;
    const next = () => {
      if (closed || i >= chunks.length) return;
      socket.write(chunks[i++]);
      if (i < chunks.length) timer = setTimeout(next, intervalMs);
    };
    socket.once(creds ? 'secureConnect' : 'connect', next);
  });
}

interface Case {
  name: string;
  /** The config limit (or parser rule) that bounds it. */
  bound: string;
  chunks: (string | Buffer)[];
  intervalMs?: number;
  /** null: plain TCP instead of mTLS. */
  tcp?: boolean;
  /** Expected statuses in order ([] = closed without any HTTP response). */
  statuses: number[];
  /** Expected error code of the first response. */
  code?: string;
  /**
   * Requests of the attacker that may reach authentication (default 0: nothing processed). An
   * upper bound: when the parser fails inside a body, the request itself may or may not have
   * reached authentication first; a smuggled request never does.
   */
  processed?: number;
  /** `processed` is exact, not an upper bound. */
  exact?: boolean;
}

const H = 'Host: localhost\r\n';
const JSON_CT = 'Content-Type: application/json\r\n';
const SMUGGLED = `GET /whoami HTTP/1.1\r\n${H}\r\n`;

function cases(): Case[] {
  const post = (headers: string, body: string) => `POST /echo HTTP/1.1\r\n${H}${JSON_CT}${headers}\r\n${body}`;
  return [
    // --- slow and silent clients ---------------------------------------------------------------
    {
      name: 'slowloris: header lines trickled forever',
      bound: 'HTTP_HEADERS_TIMEOUT_MS',
      chunks: ['GET /ping HTTP/1.1\r\n', H, ...Array.from({length: 100}, (_, i) => `X-Slow-${i}: a\r\n`)],
      intervalMs: 150,
      statuses: [408],
      code: 'HTTP_REQUEST_TIMEOUT',
    },
    {
      name: 'slow body: one byte every 150 ms',
      bound: 'HTTP_REQUEST_TIMEOUT_MS',
      chunks: [`POST /echo HTTP/1.1\r\n${H}${JSON_CT}Content-Length: 200\r\n\r\n`, ...Array.from({length: 200}, () => ' ')],
      intervalMs: 150,
      statuses: [408],
      code: 'HTTP_REQUEST_TIMEOUT',
      processed: 1,
    },
    {name: 'completes TLS, then sends nothing', bound: 'HTTP_HEADERS_TIMEOUT_MS', chunks: [], statuses: [408], code: 'HTTP_REQUEST_TIMEOUT'},
    {name: 'opens TCP, never starts TLS', bound: 'TLS_HANDSHAKE_TIMEOUT_MS', tcp: true, chunks: [], statuses: []},
    {name: 'plain HTTP on the TLS port', bound: 'TLS (no handshake)', tcp: true, chunks: [`GET /ping HTTP/1.1\r\n${H}\r\n`], statuses: []},
    {
      name: 'idle after one request (keep-alive)',
      bound: 'HTTP_KEEPALIVE_TIMEOUT_MS',
      chunks: [`GET /ping HTTP/1.1\r\n${H}\r\n`],
      statuses: [200],
      processed: 1,
      exact: true,
    },
    // --- sizes and counts ---------------------------------------------------------------------------
    {
      name: 'one 8 KiB header',
      bound: 'HTTP_MAX_HEADER_SIZE',
      chunks: [`GET /ping HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(8192)}\r\n\r\n`],
      statuses: [431],
      code: 'HTTP_HEADERS_TOO_LARGE',
    },
    {
      name: 'a 6 KiB request target',
      bound: 'HTTP_MAX_HEADER_SIZE',
      chunks: [`GET /search?q=${'a'.repeat(6144)} HTTP/1.1\r\n${H}\r\n`],
      statuses: [431],
      code: 'HTTP_HEADERS_TOO_LARGE',
    },
    {
      name: '60 small header fields (under the size limit)',
      bound: 'HTTP_MAX_HEADERS_COUNT',
      chunks: [`GET /ping HTTP/1.1\r\n${H}${Array.from({length: 60}, (_, i) => `x${i}: 1\r\n`).join('')}\r\n`],
      statuses: [431],
      code: 'HTTP_HEADERS_TOO_LARGE',
    },
    {
      name: 'declared 1 MiB body (16 KiB sent)',
      bound: 'HTTP_MAX_BODY_BYTES (request guard)',
      chunks: [post('Content-Length: 1048576\r\n', '{"a":"' + 'x'.repeat(16384))],
      statuses: [413],
      code: 'GUARD_BODY_TOO_LARGE',
    },
    {
      name: '16 KiB chunked body',
      bound: 'HTTP_MAX_BODY_BYTES (request guard)',
      chunks: [
        post(
          'Transfer-Encoding: chunked\r\n',
          Array.from({length: 16}, (_, i) => `400\r\n${(i === 0 ? '{"a":"' : '') + 'x'.repeat(i === 0 ? 1018 : 1024)}\r\n`).join('') + '0\r\n\r\n',
        ),
      ],
      statuses: [413],
      code: 'GUARD_BODY_TOO_LARGE',
      processed: 1,
    },
    {
      name: 'chunked body that never ends (1 KiB every 100 ms)',
      bound: 'HTTP_MAX_BODY_BYTES (request guard)',
      chunks: [
        post('Transfer-Encoding: chunked\r\n', `400\r\n{"a":"${'x'.repeat(1018)}\r\n`),
        ...Array.from({length: 200}, () => `400\r\n${'x'.repeat(1024)}\r\n`),
      ],
      intervalMs: 100,
      statuses: [413],
      code: 'GUARD_BODY_TOO_LARGE',
      processed: 1,
    },
    {
      name: '7 pipelined requests on one connection',
      bound: 'HTTP_MAX_REQUESTS_PER_SOCKET',
      chunks: [`GET /ping HTTP/1.1\r\n${H}\r\n`.repeat(7)],
      statuses: [200, 200, 200, 200, 200, 503, 503],
      processed: 5,
      exact: true,
    },
    // --- request smuggling (a second request hidden behind the first) --------------------------------
    {
      name: 'CL + TE: chunked',
      bound: 'HTTP parser (strict)',
      chunks: [post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'TE + CL (reversed order)',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: chunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    // Node hands this request to the app and fails on its body: the request itself reaches authentication, the smuggled one does not.
    {
      name: 'TE: xchunked',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: xchunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
      processed: 1,
    },
    {
      name: 'TE with a space before the colon',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding : chunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'TE: chunked, then TE: identity',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'TE: chunked, identity',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'TE folded onto a continuation line',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding:\r\n chunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'TE with a vertical tab',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding:\x0bchunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'duplicate Content-Length, different values',
      bound: 'HTTP parser (strict)',
      chunks: [post('Content-Length: 2\r\nContent-Length: 40\r\n', `{}${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'duplicate Content-Length, same value',
      bound: 'HTTP parser (strict)',
      chunks: [post('Content-Length: 2\r\nContent-Length: 2\r\n', `{}${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'Content-Length: +2',
      bound: 'HTTP parser (strict)',
      chunks: [post('Content-Length: +2\r\n', `{}${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'Content-Length: 2, 2',
      bound: 'HTTP parser (strict)',
      chunks: [post('Content-Length: 2, 2\r\n', `{}${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    // --- malformed framing and garbage -------------------------------------------------------------------
    {
      name: 'chunk size not hex',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: chunked\r\n', `zz\r\n{}\r\n0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
      processed: 1,
    },
    {
      name: 'chunk size overflowing 64 bits',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: chunked\r\n', `fffffffffffffffff\r\n{}\r\n0\r\n\r\n`)],
      statuses: [400],
      code: 'BAD_REQUEST',
      processed: 1,
    },
    {
      name: 'chunk data longer than its size',
      bound: 'HTTP parser (strict)',
      chunks: [post('Transfer-Encoding: chunked\r\n', `2\r\n{}xx\r\n0\r\n\r\n${SMUGGLED}`)],
      statuses: [400],
      code: 'BAD_REQUEST',
      processed: 1,
    },
    {
      name: 'NUL in a header value',
      bound: 'HTTP parser (strict)',
      chunks: [`GET /ping HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'no Host header',
      bound: 'limits middleware (RFC 9112 Host)',
      chunks: ['GET /ping HTTP/1.1\r\n\r\n'],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
    {
      name: 'binary garbage after the handshake',
      bound: 'HTTP parser (strict)',
      chunks: [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a, 0x80, 0x81])],
      statuses: [400],
      code: 'BAD_REQUEST',
    },
  ];
}

/** What went wrong for the neighbour, for the failure message. */
function describeFailures(records: readonly LoadRecord[]): string {
  return JSON.stringify(
    records
      .filter(r => r.kind !== 'response' || r.status !== 200)
      .map(r => ({
        kind: r.kind,
        status: r.status,
        error: r.error,
        newConnection: r.newConnection,
        ms: Math.round(r.endedAt - r.startedAt),
      })),
  );
}

describe('reliability: hostile transport input (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let svc: ServiceHandle;
  let load: Load;
  const rows: Cell[][] = [];

  before(async () => {
    pki = await givenTestPki();
    svc = await givenService(givenMtlsEnv(pki, {...LIMITS}));
    const bg = {port: svc.port, ...givenClient(pki, 'valid2')};
    // The well-behaved neighbour: kept-alive and new-connection requests, all the time.
    load = Load.start([
      {
        group: 'neighbour',
        tls: bg,
        mode: 'keep-alive',
        request: n =>
          n % 2 ? {target: '/ping'} : {method: 'POST', target: '/echo', headers: [['Content-Type', 'application/json']], body: '{"ok":1}'},
        pauseMs: 10,
      },
      {group: 'neighbour', tls: bg, mode: 'new-connection', request: () => ({target: '/whoami'})},
    ]);
    await load.progress(['neighbour'], 5, 60_000);
  });

  after(async () => {
    await load?.stop();
    await svc?.stop();
    if (!load) return;
    const neighbour = load.of('neighbour');
    recordSection({
      id: 'hostile-input',
      title: 'Hostile transport input',
      claim: `Each case is sent byte for byte by an authenticated mTLS client (or a bare TCP client) to the service running with small limits (${Object.entries(
        LIMITS,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}), while a well-behaved client sends requests on its own connections.`,
      source: 'test/acceptance/reliability/hostile-input.acceptance.test.ts',
      figures: {
        cases: rows.length,
        requests: rows.length + neighbour.length,
        failures: neighbour.filter(r => r.kind !== 'response' || r.status !== 200).length + rows.filter(r => r[6] !== 'yes').length,
        'well-behaved client requests (all 200)': neighbour.length,
      },
      tables: [
        {columns: ['case', 'bounded by', 'answer', 'code', 'closed by the server', 'attacker requests processed (bound)', 'as expected'], rows},
      ],
      notes: [
        'A smuggled second request (`GET /whoami`) follows every smuggling and framing case; "attacker requests processed" counts the authentication decisions logged for the attacking client during the case.',
        'Requests past HTTP_MAX_REQUESTS_PER_SOCKET are dropped by Node with its own 503 after the last allowed response carried Connection: close.',
      ],
    });
  });

  for (const c of cases()) {
    it(`${c.name}: ${c.statuses.length ? c.statuses.join(',') : 'closed'}${c.code ? ` ${c.code}` : ''} (${c.bound}), neighbour unaffected`, async () => {
      const attacker = givenClient(pki, 'valid');
      const mark = logMark(svc);
      const since = load.now();
      const r = await hostile(svc.port, c.tcp ? null : attacker, c.chunks, c.intervalMs);
      const processed = logsAfter(svc, mark, l => l.event === 'auth.decision' && l.serial === pki.clients.valid.serialHex).length;
      const statuses = r.responses.map(x => x.status);
      const processedOk = c.exact ? processed === c.processed : processed <= (c.processed ?? 0);
      const ok =
        r.closed &&
        JSON.stringify(statuses) === JSON.stringify(c.statuses) &&
        (c.code === undefined || r.responses[0]?.code === c.code) &&
        processedOk;
      rows.push([
        c.name,
        c.bound,
        statuses.length ? statuses.join(', ') : 'none (closed)',
        r.responses[0]?.code ?? '',
        r.closed ? 'yes' : 'no',
        `${processed} (${c.exact ? '=' : '<='} ${c.processed ?? 0})`,
        ok ? 'yes' : 'NO',
      ]);

      assert.equal(r.closed, true, 'the server closed the connection');
      assert.deepEqual(statuses, c.statuses, `responses: ${r.bytes.toString('latin1').slice(0, 300)}`);
      if (c.code) assert.equal(r.responses[0].code, c.code);
      if (c.statuses.length && c.statuses[0] !== 200) assert.equal(r.responses[0].connection, 'close', 'the refusal closes the connection');
      assert.ok(
        processedOk,
        `attacker requests that reached authentication: ${processed} (expected ${c.exact ? '' : '<= '}${c.processed ?? 0}; a smuggled request never does)`,
      );
      // The neighbour kept being served during and after the case.
      await load.progress(['neighbour'], 2, 60_000);
      const during = load.of('neighbour', since);
      assert.deepEqual(tally(during), {200: during.length}, `the well-behaved client was affected: ${describeFailures(during)}`);
      assert.equal(svc.child.exitCode, null);
    });
  }

  it('no crash, no uncaught error, no 5xx to the well-behaved client over the whole run', async () => {
    await load.stop();
    const all = load.of('neighbour');
    assert.ok(all.length > 0);
    assert.deepEqual(tally(all), {200: all.length}, describeFailures(all));
    assert.equal(load.unsolicitedBytes.total, 0);
    assert.deepEqual(fatalLines(svc), []);
    assert.deepEqual(stderrLines(svc), []);
  });
});

describe('reliability: strict HTTP parsing survives NODE_OPTIONS=--insecure-http-parser (acceptance)', function () {
  this.timeout(60_000);
  let svc: ServiceHandle;
  let pki: DevPkiManifest;
  before(async () => {
    pki = await givenTestPki();
    svc = await givenService(givenMtlsEnv(pki, {NODE_OPTIONS: '--insecure-http-parser'}));
  });
  after(async () => {
    await svc?.stop();
  });

  it('CL + TE and duplicate Content-Length are still refused with 400, nothing smuggled', async () => {
    const post = (headers: string, body: string) => `POST /echo HTTP/1.1\r\n${H}${JSON_CT}${headers}\r\n${body}`;
    for (const bytes of [
      post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
      post('Content-Length: 2\r\nContent-Length: 40\r\n', `{}${SMUGGLED}`),
    ]) {
      const mark = logMark(svc);
      const r = await hostile(svc.port, givenClient(pki, 'valid'), [bytes]);
      assert.deepEqual(
        r.responses.map(x => x.status),
        [400],
      );
      assert.equal(r.closed, true);
      assert.equal(logsAfter(svc, mark, l => l.event === 'auth.decision').length, 0);
    }
  });
});
