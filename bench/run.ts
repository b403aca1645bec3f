/**
 * `npm run bench [-- --quick | options]`: what security costs, side by side, in one invocation.
 * Servers pinned to one CPU, wrk to another (taskset); interleaved rounds; medians; ratios.
 * Writes docs/benchmarks.md and docs/benchmarks.json. See bench/lib/args.ts for the options and
 * docs/benchmarks.md for the method.
 */
import 'reflect-metadata';
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import {once} from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';
import {generateDevPki, DevPkiManifest} from '../src/pki/dev-pki';
import {buildLargeCrlDer} from '../src/pki/large-crl';
import {parseBenchArgs, BenchOptions, UsageError} from './lib/args';
import {expectedEcho, jsonBodyOfSize, LARGE_BODY_BYTES, SMALL_BODY} from './lib/bodies';
import {renderConsoleSummary, renderMarkdown} from './lib/report';
import {startNginx} from './lib/nginx';
import {
  buildHandshakeClient,
  buildShim,
  ClientCreds,
  cpuTreeUs,
  cpuUsOf,
  machineInfo,
  OcspResponder,
  probe,
  PROJECT_ROOT,
  requireTool,
  rssOf,
  runProbe,
  SERVICE_JS,
  ServerHandle,
  ServerSample,
  sleep,
  startHandshakeClient,
  startOcspResponder,
  startServer,
  startWrk,
  WrkSpec,
} from './lib/runtime';
import {median, rotate, summarizeAll, wrkProblemCount} from './lib/stats';
import {evaluateRatios, evaluateTargets} from './lib/targets';
import {parseConfig} from '../src/config/config';
import type {BenchResults, CrlScaleRow, LoadRun, MicroResult, ServiceReloadRow, StartupRow} from './lib/types';

const BENCH_DIST = path.resolve(__dirname);
const SERVER_SCRIPTS: Record<string, string> = {
  a: path.join(BENCH_DIST, 'servers', 'bare-https.js'),
  b: path.join(BENCH_DIST, 'servers', 'plain-loopback.js'),
  c: SERVICE_JS,
  'c-crl1m': SERVICE_JS,
  // (d): nginx in front of (b)'s application served over plain HTTP (see server()).
  d: path.join(BENCH_DIST, 'servers', 'plain-loopback.js'),
};

const log = (s: string) => process.stdout.write(`${s}\n`);

interface Ctx {
  opts: BenchOptions;
  work: string;
  shim: string;
  handshakeClient: string;
  pki: DevPkiManifest;
  creds: ClientCreds;
  ocsp: OcspResponder;
  env: NodeJS.ProcessEnv;
  crlFiles: Map<number, string>;
  servers: Map<string, ServerHandle>;
  expect: Map<string, string>;
  bodies: {small: string; large: string};
  notes: string[];
  cleanups: (() => Promise<void>)[];
}

// ------------------------------------------------------------------------------------------
// set-up

function checkMachine(opts: BenchOptions): void {
  const cpus = os.cpus().length;
  if (cpus < 2 || Math.max(opts.serverCpu, opts.loadCpu) >= cpus) {
    throw new Error(`need two distinct CPUs (server ${opts.serverCpu}, load ${opts.loadCpu}); this machine has ${cpus}`);
  }
  requireTool('taskset', 'install util-linux');
  requireTool(
    'wrk',
    'install it with `apt-get install -y wrk` (Debian/Ubuntu); the bench drives load with wrk + an LD_PRELOAD client-certificate shim',
  );
  requireTool(process.env.CC ?? 'cc', 'a C compiler is needed to build the wrk client-certificate shim (apt-get install -y gcc)');
  requireTool('openssl', 'the OCSP responder is `openssl ocsp`');
  requireTool('nginx', "variant (d) is nginx from Debian's packages: apt-get install -y nginx-light");
  if (!fs.existsSync(SERVICE_JS)) throw new Error(`${SERVICE_JS} missing: run npm run build`);
}

function writeCrl(ctx: Ctx, entries: number): string {
  const hit = ctx.crlFiles.get(entries);
  if (hit) return hit;
  const t = performance.now();
  const der = buildLargeCrlDer(
    {certPem: fs.readFileSync(ctx.pki.intermediateCa.cert, 'utf8'), keyPem: fs.readFileSync(ctx.pki.intermediateCa.key, 'utf8')},
    entries,
    {includeSerials: [ctx.pki.clients.revoked.serialHex], crlNumber: 1000 + entries},
  );
  const file = path.join(ctx.work, `intermediate-${entries}.crl`);
  fs.writeFileSync(file, der);
  log(
    `  built a ${entries.toLocaleString('en-US')}-entry CRL (${(der.length / 1048576).toFixed(1)} MiB) in ${(performance.now() - t).toFixed(0)} ms`,
  );
  ctx.crlFiles.set(entries, file);
  return file;
}

function serviceEnv(ctx: Ctx, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {...ctx.env, ...extra};
}

function nginxVersion(): string {
  const r = spawnSync('nginx', ['-v'], {encoding: 'utf8', timeout: 10_000});
  return /nginx\/(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'unknown';
}

function describeVariants(ctx: Ctx): Record<string, string> {
  const e = ctx.env;
  return {
    a: "bench/servers/bare-https.ts: `https.createServer` with the service's `buildServerTlsOptions` (TLS 1.3 only, client certificate required) and HTTP limits; identity from one `getPeerX509Certificate()` per connection, cached on the socket; no logging.",
    b: 'bench/servers/plain-loopback.ts: a plain LoopBack 4 `RestApplication` with the same TLS options, HTTP limits and REST settings and the same routes (identity cached per connection as in (a)); no authenticator, no guards, no security headers, no audit log.',
    c:
      `this service, \`node dist/src/index.js\` as shipped, NODE_ENV=${e.NODE_ENV}, LOG_LEVEL=${e.LOG_LEVEL} (one audit line per decision, written to ${ctx.opts.logFile}), ` +
      `CRLs of the root and intermediate CA, MTLS_REVOCATION=${e.MTLS_REVOCATION} with a real \`openssl ocsp\` responder on loopback (cache warm), ` +
      'MTLS_ALLOWED_SUBJECTS set, guards and authenticator as built.',
    'c-crl1m': "(c) with the intermediate CA's CRL replaced by a 1,000,000-entry CRL (plus the revoked client).",
    d:
      `nginx ${nginxVersion()} from Debian's packages, one process (\`master_process off\`), TLS 1.3 only with the service's suites and groups, ` +
      "`ssl_verify_client on` against the same CA bundle and the same CRLs (root and intermediate, `ssl_crl`), the service's keep-alive limits, " +
      "one access-log line per request to /dev/null; it proxies over HTTP/1.1 keep-alive to (b)'s application served over plain HTTP on 127.0.0.1 " +
      '(bench/servers/plain-loopback.ts with BENCH_UPSTREAM_HTTP=1; /whoami answers from the X-Client-* headers nginx sets). nginx and the upstream ' +
      'are pinned to the same CPU; server CPU = both processes. Configuration generated at run time (bench/lib/nginx.ts). Like (a) and (b), no authenticator, guard or security header of its own; unlike them, CRLs checked.',
  };
}

/** A new server process of the variant (not cached), pinned to the server CPU. */
async function startVariant(ctx: Ctx, variant: string, tag = ''): Promise<ServerHandle> {
  const extra: Record<string, string> = {};
  if (variant === 'c-crl1m') {
    extra.TLS_CRL_FILES = `${ctx.pki.crls.root},${writeCrl(ctx, 1_000_000)}`;
    extra.BENCH_HOOK_RELOAD = '1';
  }
  if (variant === 'd') extra.BENCH_UPSTREAM_HTTP = '1';
  const nodeArgs = ctx.opts.cpuProfDir && variant !== 'a' ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(ctx.opts.cpuProfDir, variant)] : [];
  const t = performance.now();
  const node = await startServer({
    name: variant === 'd' ? 'd (upstream)' : variant,
    script: SERVER_SCRIPTS[variant],
    env: serviceEnv(ctx, extra),
    cpu: ctx.opts.serverCpu,
    logFile: variant.startsWith('c') ? ctx.opts.logFile : '/dev/null',
    nodeArgs,
  });
  let h = node;
  if (variant === 'd') {
    try {
      h = await startNginx({
        name: 'd',
        dir: path.join(ctx.work, `nginx-${++nginxSeq}${tag}`),
        cpu: ctx.opts.serverCpu,
        upstream: node,
        conf: nginxConf(ctx),
      });
    } catch (e) {
      await node.stop();
      throw e;
    }
  }
  log(
    `  started ${variant}${tag} (pid ${h.pid}${variant === 'd' ? ` + upstream ${node.pid}` : ''}, ${h.url}) in ${(performance.now() - t).toFixed(0)} ms`,
  );
  let stopped = false;
  const stop = h.stop.bind(h);
  const handle: ServerHandle = Object.assign(Object.create(h) as ServerHandle, {
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop();
    },
  });
  ctx.cleanups.push(() => handle.stop());
  return handle;
}

let nginxSeq = 0;

/** Variant (d)'s nginx settings: the service's own TLS 1.3 suites, groups and keep-alive limits. */
function nginxConf(ctx: Ctx): Parameters<typeof startNginx>[0]['conf'] {
  const config = parseConfig(ctx.env);
  const crlFile = path.join(ctx.work, 'nginx-crls.pem');
  if (!fs.existsSync(crlFile))
    fs.writeFileSync(crlFile, fs.readFileSync(ctx.pki.crls.root, 'utf8') + fs.readFileSync(ctx.pki.crls.intermediate, 'utf8'));
  return {
    serverCert: ctx.pki.server.cert,
    serverKey: ctx.pki.server.key,
    caBundle: ctx.pki.caBundle,
    crlFile,
    tls13Suites: config.tls.ciphers,
    ecdhCurve: config.tls.ecdhCurve,
    keepAliveRequests: config.http.maxRequestsPerSocket || 1000000,
    keepAliveTimeoutS: Math.max(1, Math.round(config.http.keepAliveTimeoutMs / 1000)),
    maxBodyBytes: config.http.maxBodyBytes,
    verifyDepth: config.mtls.maxChainDepth,
  };
}

/** The variant's long-lived server (started on first use, shared by the sections). */
async function server(ctx: Ctx, variant: string): Promise<ServerHandle> {
  const hit = ctx.servers.get(variant);
  if (hit) return hit;
  const h = await startVariant(ctx, variant);
  ctx.servers.set(variant, h);
  return h;
}

const fingerprintish = (s: string) => s.replace(/:/g, '').toUpperCase();

/** Probe once, check the answer, and store it as the body wrk must see on every response. */
async function expectFor(ctx: Ctx, variant: string, scenario: 'whoami' | 'echo-small' | 'echo-64k', fresh?: ServerHandle): Promise<string> {
  const key = `${variant}:${scenario}`;
  const hit = ctx.expect.get(key);
  if (hit && !fresh) return hit;
  const h = fresh ?? (await server(ctx, variant));
  const body = scenario === 'whoami' ? undefined : scenario === 'echo-small' ? ctx.bodies.small : ctx.bodies.large;
  const res = await probe(h.url, ctx.creds, body === undefined ? {path: '/whoami'} : {method: 'POST', path: '/echo', body: Buffer.from(body)});
  if (res.status !== 200) throw new Error(`${variant} ${scenario}: probe answered ${res.status}: ${res.body.slice(0, 300)}`);
  if (hit && res.body !== fs.readFileSync(hit, 'utf8'))
    throw new Error(`${variant} ${scenario}: a fresh server answered differently: ${res.body.slice(0, 300)}`);
  if (body === undefined) {
    const c = ctx.pki.clients.valid;
    if (!fingerprintish(res.body).includes(fingerprintish(c.fingerprint256)) && !res.body.toUpperCase().includes(c.serialHex.replace(/^0+/, ''))) {
      throw new Error(`${variant} /whoami does not name the client certificate: ${res.body.slice(0, 300)}`);
    }
  } else {
    const got = JSON.parse(res.body) as {received?: unknown; keys?: unknown};
    if (JSON.stringify(got) !== JSON.stringify(expectedEcho(body))) throw new Error(`${variant} /echo answered ${res.body.slice(0, 300)}`);
  }
  const file = path.join(ctx.work, `expect-${variant}-${scenario}.txt`);
  fs.writeFileSync(file, res.body);
  ctx.expect.set(key, file);
  return file;
}

// ------------------------------------------------------------------------------------------
// one measured window

interface WindowSpec {
  section: LoadRun['section'];
  scenario: string;
  variant: string;
  round: number;
  connections: number;
  close: boolean;
  method: 'GET' | 'POST';
  path: string;
  bodyFile?: string;
  expectFile: string;
  warmupS: number;
  durationS: number;
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

async function measure(ctx: Ctx, w: WindowSpec): Promise<LoadRun> {
  const h = await server(ctx, w.variant);
  const spec: WrkSpec = {
    url: h.url,
    path: w.path,
    method: w.method,
    bodyFile: w.bodyFile,
    expectFile: w.expectFile,
    connections: w.connections,
    durationS: w.warmupS + w.durationS + 1,
    close: w.close,
    cpu: ctx.opts.loadCpu,
    shim: ctx.shim,
    clientChain: ctx.pki.clients.valid.chain,
    clientKey: ctx.pki.clients.valid.key,
  };
  const run = startWrk(spec);
  await sleep(w.warmupS * 1000);
  h.resetEld();
  const s0 = await h.sample();
  const l0 = safeCpu(run.pid);
  await sleep(w.durationS * 1000);
  const s1 = await h.sample();
  const l1 = safeCpu(run.pid);
  const wrk = await run.done;
  const r: LoadRun = {
    section: w.section,
    scenario: w.scenario,
    variant: w.variant,
    round: w.round,
    connections: w.connections,
    windowS: (s1.at - s0.at) / 1000,
    requests: s1.counters.requests - s0.counters.requests,
    newConnections: s1.counters.connections - s0.counters.connections,
    resumed: s1.counters.resumed - s0.counters.resumed,
    cpuUs: s1.cpuUs - s0.cpuUs,
    loadCpuUs: l1 !== undefined && l0 !== undefined ? l1 - l0 : NaN,
    parses: delta(s0.counters.parses, s1.counters.parses),
    eldMaxMs: s1.eldMaxMs,
    wrk,
  };
  const problems = wrkProblemCount(wrk);
  log(
    `  [${w.scenario} r${w.round + 1}] ${w.variant.padEnd(8)} ${(r.requests / r.windowS).toFixed(0).padStart(7)} req/s ` +
      `${(r.newConnections / r.windowS).toFixed(0).padStart(5)} conn/s  CPU ${(r.cpuUs / Math.max(1, r.requests)).toFixed(1).padStart(7)} µs/req  ` +
      `p99 ${(wrk.latencyUs.p99 / 1000).toFixed(2)} ms${problems > 0 ? `  ERRORS ${problems} (${wrk.sample})` : ''}`,
  );
  return r;
}

function safeCpu(pid: number, tree = false): number | undefined {
  try {
    return tree ? cpuTreeUs(pid) : cpuUsOf(pid);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------
// sections

async function warmUp(
  ctx: Ctx,
  variants: string[],
  w: Omit<WindowSpec, 'variant' | 'round' | 'expectFile'> & {expect: (v: string) => Promise<string>},
): Promise<void> {
  for (const v of variants) {
    const h = await server(ctx, v);
    const run = startWrk({
      url: h.url,
      path: w.path,
      method: w.method,
      bodyFile: w.bodyFile,
      expectFile: await w.expect(v),
      connections: w.connections,
      durationS: Math.max(1, w.warmupS),
      close: w.close,
      cpu: ctx.opts.loadCpu,
      shim: ctx.shim,
      clientChain: ctx.pki.clients.valid.chain,
      clientKey: ctx.pki.clients.valid.key,
    });
    const res = await run.done;
    if (wrkProblemCount(res) > 0) log(`  warm-up of ${v}: ${wrkProblemCount(res)} problem(s): ${res.sample}`);
  }
}

async function sectionKeepAlive(ctx: Ctx, runs: LoadRun[]): Promise<void> {
  log('\n== 1. keep-alive GET /whoami: (a) bare https, (b) plain LoopBack, (c) this service, (d) nginx + plain LoopBack');
  const variants = ['a', 'b', 'c', 'd'];
  await warmUp(ctx, variants, {
    section: 'keepalive',
    scenario: 'warm-up',
    connections: 100,
    close: false,
    method: 'GET',
    path: '/whoami',
    warmupS: ctx.opts.warmupS + 1,
    durationS: 0,
    expect: v => expectFor(ctx, v, 'whoami'),
  });
  for (let round = 0; round < ctx.opts.rounds; round++) {
    for (const conns of [10, 100]) {
      for (const v of rotate(variants, round)) {
        runs.push(
          await measure(ctx, {
            section: 'keepalive',
            scenario: `keepalive-${conns}`,
            variant: v,
            round,
            connections: conns,
            close: false,
            method: 'GET',
            path: '/whoami',
            expectFile: await expectFor(ctx, v, 'whoami'),
            warmupS: ctx.opts.warmupS,
            durationS: ctx.opts.durationS,
          }),
        );
      }
    }
  }
}

/**
 * TLS handshakes only, no HTTP: the handshake client (bench/shim/handshake-client.c) against a
 * freshly started server per window, so no window inherits another's TIME_WAIT backlog or warm
 * caches, and the section runs before the connection-per-request one. Server CPU per handshake.
 */
async function sectionHandshakeOnly(ctx: Ctx, runs: LoadRun[]): Promise<void> {
  log('\n== 2. TLS handshakes only (no HTTP), fresh server per window: (a), (b), (c), (d)');
  const variants = ['a', 'b', 'c', 'd'];
  for (let round = 0; round < ctx.opts.rounds; round++) {
    for (const v of rotate(variants, round)) runs.push(await measureHandshakes(ctx, v, round));
  }
}

async function measureHandshakes(ctx: Ctx, variant: string, round: number): Promise<LoadRun> {
  // The same check as every other section: the valid client is served (a probe, before any load).
  const h = await startVariant(ctx, variant, `-hs${round + 1}`);
  try {
    await expectFor(ctx, variant, 'whoami', h);
    const spec = {
      binary: ctx.handshakeClient,
      port: h.port,
      workers: ctx.opts.handshakeWorkers,
      cpu: ctx.opts.loadCpu,
      clientChain: ctx.pki.clients.valid.chain,
      clientKey: ctx.pki.clients.valid.key,
      caFile: ctx.pki.caBundle,
      acceptEof: variant === 'd',
    };
    const run = startHandshakeClient({...spec, durationS: ctx.opts.warmupS + ctx.opts.durationS + 1});
    await sleep(ctx.opts.warmupS * 1000);
    h.resetEld();
    const s0 = await h.sample();
    const l0 = safeCpu(run.pid, true);
    await sleep(ctx.opts.durationS * 1000);
    const s1 = await h.sample();
    const l1 = safeCpu(run.pid, true);
    const res = await run.done;
    const r: LoadRun = {
      section: 'handshake',
      scenario: 'handshake-only',
      variant,
      round,
      connections: ctx.opts.handshakeWorkers,
      windowS: (s1.at - s0.at) / 1000,
      requests: s1.counters.requests - s0.counters.requests,
      newConnections: s1.counters.connections - s0.counters.connections,
      resumed: s1.counters.resumed - s0.counters.resumed,
      cpuUs: s1.cpuUs - s0.cpuUs,
      loadCpuUs: l1 !== undefined && l0 !== undefined ? l1 - l0 : NaN,
      parses: delta(s0.counters.parses, s1.counters.parses),
      eldMaxMs: s1.eldMaxMs,
      wrk: res,
    };
    const problems = wrkProblemCount(res);
    log(
      `  [handshake-only r${round + 1}] ${variant.padEnd(8)} ${(r.newConnections / r.windowS).toFixed(0).padStart(5)} handshakes/s  ` +
        `CPU ${(r.cpuUs / Math.max(1, r.newConnections)).toFixed(1).padStart(7)} µs/handshake  client: ${res.responses} good of ${res.requests}` +
        `${problems > 0 ? `  ERRORS ${problems} (${res.sample})` : ''}${r.requests > 0 ? `  UNEXPECTED HTTP REQUESTS ${r.requests}` : ''}`,
    );
    return r;
  } finally {
    await h.stop();
  }
}

async function sectionConnections(ctx: Ctx, runs: LoadRun[]): Promise<void> {
  log('\n== 3. new connections: one request per connection, full handshakes: (a), (b), (c), (d), (c) + 1M CRL');
  const variants = ['a', 'b', 'c', 'd', 'c-crl1m'];
  for (let round = 0; round < ctx.opts.rounds; round++) {
    for (const v of rotate(variants, round)) {
      runs.push(
        await measure(ctx, {
          section: 'connections',
          scenario: 'conn-per-request',
          variant: v,
          round,
          connections: ctx.opts.handshakeConnections,
          close: true,
          method: 'GET',
          path: '/whoami',
          expectFile: await expectFor(ctx, v, 'whoami'),
          warmupS: ctx.opts.warmupS,
          durationS: ctx.opts.durationS,
        }),
      );
    }
  }
}

async function sectionGuards(ctx: Ctx, runs: LoadRun[], micro: MicroResult[]): Promise<void> {
  log('\n== 4. guard cost per request: POST /echo, small and 64 KiB JSON bodies: (b) vs (c)');
  const files = {
    'echo-small': path.join(ctx.work, 'body-small.json'),
    'echo-64k': path.join(ctx.work, 'body-64k.json'),
  } as const;
  fs.writeFileSync(files['echo-small'], ctx.bodies.small);
  fs.writeFileSync(files['echo-64k'], ctx.bodies.large);
  const variants = ['b', 'c'];
  for (let round = 0; round < ctx.opts.rounds; round++) {
    for (const scenario of ['echo-small', 'echo-64k'] as const) {
      for (const v of rotate(variants, round)) {
        runs.push(
          await measure(ctx, {
            section: 'guards',
            scenario,
            variant: v,
            round,
            connections: 10,
            close: false,
            method: 'POST',
            path: '/echo',
            bodyFile: files[scenario],
            expectFile: await expectFor(ctx, v, scenario),
            warmupS: ctx.opts.warmupS,
            durationS: ctx.opts.durationS,
          }),
        );
      }
    }
  }
  const res = (await runProbe(
    path.join(BENCH_DIST, 'probes', 'micro-probe.js'),
    {
      BENCH_SMALL_BODY_FILE: files['echo-small'],
      BENCH_LARGE_BODY_FILE: files['echo-64k'],
      BENCH_OCSP_URL: ctx.ocsp.url,
      BENCH_LEAF_CERT: ctx.pki.clients.valid.cert,
      BENCH_ISSUER_CERT: ctx.pki.intermediateCa.cert,
    },
    ctx.opts.serverCpu,
  )) as {guards: MicroResult[]; ocsp: MicroResult[]; notes: string[]};
  micro.push(...res.guards);
  ctx.notes.push(...res.notes.filter(n => n.startsWith('guard')));
  for (const g of res.guards) log(`  ${g.name}: ${g.us.toFixed(2)} µs`);
}

async function ocspMicro(ctx: Ctx): Promise<MicroResult[]> {
  const res = (await runProbe(
    path.join(BENCH_DIST, 'probes', 'micro-probe.js'),
    {
      BENCH_SMALL_BODY_FILE: path.join(ctx.work, 'body-small.json'),
      BENCH_LARGE_BODY_FILE: path.join(ctx.work, 'body-64k.json'),
      BENCH_OCSP_URL: ctx.ocsp.url,
      BENCH_LEAF_CERT: ctx.pki.clients.valid.cert,
      BENCH_ISSUER_CERT: ctx.pki.intermediateCa.cert,
    },
    ctx.opts.serverCpu,
  )) as {guards: MicroResult[]; ocsp: MicroResult[]; notes: string[]};
  ctx.notes.push(...res.notes.filter(n => n.startsWith('OCSP')));
  for (const o of res.ocsp) log(`  ${o.name}: ${o.us.toFixed(2)} µs`);
  return res.ocsp;
}

async function sectionRevocation(ctx: Ctx): Promise<{crl: CrlScaleRow[]; serviceReload: ServiceReloadRow[]; ocsp: MicroResult[]}> {
  log('\n== 3. revocation at scale');
  const crl: CrlScaleRow[] = [];
  for (const entries of ctx.opts.crlSizes) {
    const file = writeCrl(ctx, entries);
    const row = (await runProbe(
      path.join(BENCH_DIST, 'probes', 'revocation-probe.js'),
      {
        BENCH_CRL_FILE: file,
        BENCH_CA_BUNDLE: ctx.pki.caBundle,
        BENCH_LEAF_CERT: ctx.pki.clients.valid.cert,
        BENCH_CRL_COUNT: String(entries),
      },
      ctx.opts.serverCpu,
      ['--expose-gc'],
    )) as Omit<CrlScaleRow, 'fileBytes'>;
    const full: CrlScaleRow = {...row, fileBytes: fs.statSync(file).size};
    crl.push(full);
    log(
      `  ${entries.toLocaleString('en-US')} entries: load ${full.loadMs.toFixed(0)} ms, reload ${full.reloadMs.toFixed(0)} ms, ` +
        `retained ${(full.retainedBytes / 1048576).toFixed(1)} MiB, lookup ${full.lookupNsAbsent.toFixed(0)}/${full.lookupNsPresent.toFixed(0)} ns, ` +
        `statusOfCertificate ${full.statusOfCertificateUs.toFixed(1)} µs, longest block ${full.eldMaxLoadMs.toFixed(1)}/${full.eldMaxReloadMs.toFixed(1)} ms ` +
        `(CPU-attributed ${full.cpuBlockMaxLoadMs.toFixed(1)}/${full.cpuBlockMaxReloadMs.toFixed(1)} ms)` +
        (full.lookupsVerified ? '' : '  LOOKUPS WRONG'),
    );
    if (!full.lookupsVerified) ctx.notes.push(`CRL of ${entries} entries: lookups did not return the expected statuses`);
  }
  const serviceReload: ServiceReloadRow[] = [];
  if (ctx.opts.crlSizes.includes(1_000_000)) serviceReload.push(await serviceReloadUnderLoad(ctx));
  const ocsp = await ocspMicro(ctx);
  return {crl, serviceReload, ocsp};
}

/** SIGHUP the service holding a 1M-entry CRL while wrk keeps it busy; time the reload and the longest block. */
async function serviceReloadUnderLoad(ctx: Ctx): Promise<ServiceReloadRow> {
  const h = await server(ctx, 'c-crl1m');
  const run = startWrk({
    url: h.url,
    path: '/whoami',
    method: 'GET',
    expectFile: await expectFor(ctx, 'c-crl1m', 'whoami'),
    connections: 10,
    durationS: 120,
    close: false,
    cpu: ctx.opts.loadCpu,
    shim: ctx.shim,
    clientChain: ctx.pki.clients.valid.chain,
    clientKey: ctx.pki.clients.valid.key,
  });
  await sleep(1500);
  h.resetEld();
  const s0 = await h.sample();
  if (!s0.reloads) throw new Error('the reload hook is not active in c-crl1m');
  h.signal('SIGHUP');
  let s1: ServerSample = s0;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    await sleep(100);
    s1 = await h.sample();
    if (s1.reloads!.count > s0.reloads.count) break;
  }
  await sleep(300);
  const s2 = await h.sample();
  run.stop();
  const wrk = await run.done;
  if (s1.reloads!.count === s0.reloads.count) throw new Error('the service did not finish the SIGHUP reload within 90 s');
  const row: ServiceReloadRow = {
    entries: 1_000_000,
    reloadMs: s1.reloads!.lastMs,
    eldMaxMs: s2.eldMaxMs,
    cpuBlockMaxMs: s2.cpuBlockMaxMs,
    requestsDuring: s1.counters.requests - s0.counters.requests,
    errorsDuring: wrkProblemCount(wrk),
  };
  if (!s1.reloads!.lastOk) ctx.notes.push('the SIGHUP reload of the 1M-entry CRL reported failure');
  log(
    `  service SIGHUP reload with 1M CRL under load: ${row.reloadMs.toFixed(0)} ms, longest block ${row.eldMaxMs.toFixed(1)} ms (CPU-attributed ${row.cpuBlockMaxMs.toFixed(1)} ms), ` +
      `${row.requestsDuring} requests served meanwhile, ${row.errorsDuring} errors`,
  );
  return row;
}

async function sectionStartup(ctx: Ctx): Promise<StartupRow[]> {
  log('\n== 5. start-up time and idle RSS of the service');
  const rows: StartupRow[] = [];
  const configs: [string, Record<string, string>][] = [
    ['default CRLs (root + intermediate)', {}],
    ['with a 1,000,000-entry CRL', {TLS_CRL_FILES: `${ctx.pki.crls.root},${writeCrl(ctx, 1_000_000)}`}],
  ];
  for (const [label, extra] of configs) {
    const starts: number[] = [];
    const firsts: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < ctx.opts.startupRounds; i++) {
      const t0 = performance.now();
      const child = spawn('taskset', ['-c', String(ctx.opts.serverCpu), process.execPath, SERVICE_JS], {
        env: serviceEnv(ctx, {...extra, PRINT_BANNER: 'true'}),
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = once(child, 'exit');
      try {
        let out = '';
        const url = await new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`service did not start within 120 s: ${out.slice(-500)}`)), 120_000);
          child.stdout!.setEncoding('utf8').on('data', (d: string) => {
            out += d;
            const m = /listening on (https:\/\/\S+)/.exec(out);
            if (m) {
              clearTimeout(t);
              resolve(m[1]);
            }
          });
          child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
          void exited.then(() => reject(new Error(`service exited during start-up: ${out.slice(-500)}`)));
        });
        starts.push(performance.now() - t0);
        const res = await probe(url, ctx.creds, {path: '/whoami'});
        if (res.status !== 200) throw new Error(`first request answered ${res.status}`);
        firsts.push(performance.now() - t0);
        await sleep(ctx.opts.quick ? 1000 : 3000);
        rss.push(rssOf(child.pid!));
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    }
    const row: StartupRow = {label, rounds: starts.length, startMs: median(starts), firstRequestMs: median(firsts), idleRssBytes: median(rss)};
    rows.push(row);
    log(
      `  ${label}: ${row.startMs.toFixed(0)} ms to listening, ${row.firstRequestMs.toFixed(0)} ms to first 200, idle RSS ${(row.idleRssBytes / 1048576).toFixed(1)} MiB`,
    );
  }
  return rows;
}

// ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      process.exit(64);
    }
    throw e;
  }
  checkMachine(opts);
  // The orchestrator itself stays off the server CPU.
  execFileSync('taskset', ['-pc', String(opts.loadCpu), String(process.pid)], {stdio: 'ignore'});
  const startedAt = new Date().toISOString();
  const machine = machineInfo(opts.serverCpu, opts.loadCpu);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hardened-mtls-bench-'));
  const cleanups: (() => Promise<void>)[] = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    fs.rmSync(work, {recursive: true, force: true});
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

  try {
    log(
      `bench: ${opts.quick ? 'QUICK smoke mode' : 'full run'}, ${opts.rounds} rounds, ${opts.warmupS}+${opts.durationS} s windows; ` +
        `server CPU ${opts.serverCpu}, load CPU ${opts.loadCpu}; load average ${os
          .loadavg()
          .map(x => x.toFixed(2))
          .join(' ')}`,
    );
    const shim = buildShim(work);
    const handshakeClient = buildHandshakeClient(work);
    const pkiDir = path.join(work, 'pki');
    const ocspDir = path.join(work, 'ocsp');
    fs.mkdirSync(ocspDir);
    const ocsp = await startOcspResponder({
      dir: ocspDir,
      index: path.join(pkiDir, 'openssl-index.txt'),
      caCert: path.join(pkiDir, 'intermediate-ca.crt'),
      signerCert: path.join(pkiDir, 'ocsp-responder.crt'),
      signerKey: path.join(pkiDir, 'ocsp-responder.key'),
    });
    cleanups.push(() => ocsp.stop());
    const pki = await generateDevPki({dir: pkiDir, ocspUrl: ocsp.url});
    const creds: ClientCreds = {
      ca: fs.readFileSync(pki.caBundle),
      cert: fs.readFileSync(pki.clients.valid.cert),
      key: fs.readFileSync(pki.clients.valid.key),
    };
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      PRINT_BANNER: 'true',
      TLS_CERT_FILE: pki.server.cert,
      TLS_KEY_FILE: pki.server.key,
      TLS_CA_FILE: pki.caBundle,
      TLS_CRL_FILES: `${pki.crls.root},${pki.crls.intermediate}`,
      MTLS_ALLOWED_SUBJECTS: 'uri:spiffe://hardened-mtls.test/client/*',
      MTLS_REVOCATION: 'crl,ocsp',
      MTLS_OCSP_URL: ocsp.url,
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
      OUTBOUND_ALLOWED_PORTS: String(ocsp.port),
      POSTURE_MODE: 'warn',
      // POST /echo is a demo route (off in production by default).
      DEMO_ROUTES: 'true',
      // The same process defaults for every Node server, (a)-(d) (the service sets this one itself,
      // src/process-defaults.ts; the baselines import that module too).
      DEBUG_COLORS: 'no',
    };
    const ctx: Ctx = {
      opts,
      work,
      shim,
      handshakeClient,
      pki,
      creds,
      ocsp,
      env,
      crlFiles: new Map(),
      servers: new Map(),
      expect: new Map(),
      bodies: {small: SMALL_BODY, large: jsonBodyOfSize(LARGE_BODY_BYTES)},
      notes: [],
      cleanups,
    };
    fs.writeFileSync(path.join(work, 'body-small.json'), ctx.bodies.small);
    fs.writeFileSync(path.join(work, 'body-64k.json'), ctx.bodies.large);

    const runs: LoadRun[] = [];
    const guards: MicroResult[] = [];
    let revocation: BenchResults['revocation'] = {crl: [], serviceReload: [], ocsp: []};
    let startup: StartupRow[] = [];
    const t0 = performance.now();
    const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await f();
      const line = `section ${name}: ${((performance.now() - t) / 1000).toFixed(0)} s (load average ${os
        .loadavg()
        .map(x => x.toFixed(2))
        .join(' ')})`;
      log(`  ${line}`);
      ctx.notes.push(line);
      return r;
    };
    if (opts.sections.includes('keepalive')) await timed('keepalive', () => sectionKeepAlive(ctx, runs));
    if (opts.sections.includes('handshake')) await timed('handshake', () => sectionHandshakeOnly(ctx, runs));
    if (opts.sections.includes('connections')) await timed('connections', () => sectionConnections(ctx, runs));
    if (opts.sections.includes('revocation')) revocation = await timed('revocation', () => sectionRevocation(ctx));
    if (opts.sections.includes('guards')) await timed('guards', () => sectionGuards(ctx, runs, guards));
    for (const v of ['a', 'b', 'c', 'd', 'c-crl1m']) {
      const h = ctx.servers.get(v);
      if (h) {
        await h.stop();
        ctx.servers.delete(v);
      }
    }
    if (opts.sections.includes('startup')) startup = await timed('startup', () => sectionStartup(ctx));
    ctx.notes.push(`whole run: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    ctx.notes.push(`the OCSP responder answered ${ocsp.requests} request(s) during the whole run (the service caches answers).`);
    if (opts.quick) ctx.notes.push('--quick smoke mode: rounds and windows are too short for conclusions.');
    if (os.loadavg()[0] > 1.5)
      ctx.notes.push(
        `load average at the end was ${os
          .loadavg()
          .map(x => x.toFixed(2))
          .join(' ')}: the machine was not quiet.`,
      );

    const results: BenchResults = {
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      config: {
        quick: opts.quick,
        rounds: opts.rounds,
        warmupS: opts.warmupS,
        durationS: opts.durationS,
        handshakeConnections: opts.handshakeConnections,
        handshakeWorkers: opts.handshakeWorkers,
        sections: opts.sections,
        crlSizes: opts.crlSizes,
      },
      machine,
      variants: describeVariants(ctx),
      runs,
      summaries: summarizeAll(runs),
      revocation,
      guards,
      startup,
      notes: ctx.notes,
    };
    const targets = evaluateTargets(results);
    const ratios = evaluateRatios(results);
    const outDir = path.resolve(PROJECT_ROOT, opts.outDir);
    fs.mkdirSync(outDir, {recursive: true});
    fs.writeFileSync(path.join(outDir, 'benchmarks.json'), JSON.stringify({...results, targets, ratios}, null, 2) + '\n');
    fs.writeFileSync(path.join(outDir, 'benchmarks.md'), renderMarkdown(results, targets, ratios));
    log('\n== summary (medians)\n' + renderConsoleSummary(results, targets, ratios));
    log(`\nwrote ${path.relative(process.cwd(), path.join(outDir, 'benchmarks.md'))} and benchmarks.json`);
  } finally {
    await cleanup();
  }
}

main().catch(e => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
