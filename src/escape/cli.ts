/**
 * `npm run escape -- [options]`: the escape-attempt suite.
 *
 *   (no --target)                 start a local instance (throw-away PKI, harness) and attack it
 *   --target https://HOST:PORT    attack a deployment
 *   --ca FILE --cert FILE --key FILE   trust anchor for the target, the allowed client identity
 *   --scenario-certs DIR          <scenario>.crt/.key for the mTLS cases (e.g. the dev PKI's clients/)
 *   --only CATEGORY[,CATEGORY]    run only these categories (repeatable); --case ID[,ID] likewise
 *   --report junit|json|html|sarif   reports to write (repeatable / comma list; default junit, json, html)
 *   --out DIR                     where to write them (default ./escape-report)
 *   --spec FILE | --spec target   spec-driven cases from an OpenAPI file or the target's /openapi.json
 *   --runtime local|sandbox|exec:CMD   where the runtime cases' probe runs:
 *                                 sandbox  (default without --target) inside the hardened bubblewrap sandbox
 *                                          (src/posture/sandbox; needs root + bubblewrap, else the runtime cases FAIL)
 *                                 local    in the runner's own process (only inside a hardened runtime)
 *                                 exec:CMD a command that runs the probe inside the target, e.g.
 *                                          exec:"podman exec CTR node /app/dist/src/escape/runtime-probe.js"
 *                                 (without --runtime, a remote target's runtime cases are "not applicable")
 *   --runtime-exec "CMD ..."      same as --runtime exec:"CMD ..."
 *   --lenient-codes               accept any 4xx as a refusal (for services without this project's error codes)
 *   --servername NAME             TLS server name for the target
 *   --concurrency N, --timeout-ms N, --quiet
 *
 *   make-scenario-certs --issuer-cert F --issuer-key F --out DIR [--root-cert F --root-key F] [--allowed-dns NAME] [--trust-domain TD]
 *     [--operator-uri URI] [--operator-dns NAME]   (authz: second CA + the operator's SANs from it)
 *
 * Exit status: 0 no failed case, 1 at least one failed case, 2 usage or start-up error.
 */
import fs from 'node:fs';
import path from 'node:path';
import {CATEGORIES} from './catalog';
import {DEFAULT_REPORT_FORMATS, REPORT_FORMATS, ReportFormat, writeReports} from './report';
import {ProgressEvent, readFileArg, runEscapeSuite, RunOptions} from './runner';
import type {RuntimeOptions} from './runtime';
import {generateAuthzScenarioCerts, generateScenarioCerts} from './scenario-certs';
import {loadCaHandle} from '../pki/x509-factory';

export class UsageError extends Error {}

export interface CliArgs {
  run: RunOptions;
  reports: ReportFormat[];
  outDir: string;
  quiet: boolean;
}

const VALUE_FLAGS = new Set([
  '--target',
  '--ca',
  '--cert',
  '--key',
  '--scenario-certs',
  '--only',
  '--case',
  '--report',
  '--out',
  '--spec',
  '--runtime',
  '--runtime-exec',
  '--servername',
  '--concurrency',
  '--timeout-ms',
]);

function splitList(v: string): string[] {
  return v
    .split(',')
    .map(s => s.trim())
    .filter(Boolean);
}

/** Splits a command line on whitespace, honouring single and double quotes (no shell). */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

export function parseEscapeArgs(argv: readonly string[]): CliArgs {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (VALUE_FLAGS.has(a)) {
      if (v === undefined) {
        v = argv[++i];
        if (v === undefined) throw new UsageError(`${a} needs a value`);
      }
      values.set(a, [...(values.get(a) ?? []), v]);
    } else if (['--lenient-codes', '--quiet', '--help', '-h'].includes(a)) {
      flags.add(a);
    } else {
      throw new UsageError(`unknown argument ${a}`);
    }
  }
  if (flags.has('--help') || flags.has('-h')) throw new UsageError('help');
  const one = (k: string) => {
    const v = values.get(k);
    if (v && v.length > 1) throw new UsageError(`${k} given twice`);
    return v?.[0];
  };
  const num = (k: string) => {
    const v = one(k);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${k} must be a positive whole number`);
    return Number(v);
  };

  const run: RunOptions = {strictCodes: !flags.has('--lenient-codes')};
  const only = (values.get('--only') ?? []).flatMap(splitList);
  const unknown = only.filter(c => !(CATEGORIES as readonly string[]).includes(c));
  if (unknown.length) throw new UsageError(`--only: unknown category ${unknown.join(', ')} (one of: ${CATEGORIES.join(', ')})`);
  if (only.length) run.categories = only;
  const ids = (values.get('--case') ?? []).flatMap(splitList);
  if (ids.length) run.ids = ids;

  const target = one('--target');
  const ca = one('--ca');
  const cert = one('--cert');
  const key = one('--key');
  const scenarioDir = one('--scenario-certs');
  if (target) {
    if (!/^https:\/\//.test(target)) throw new UsageError('--target must be an https:// URL (https://HOST:PORT)');
    if (cert === undefined || key === undefined)
      throw new UsageError('--target needs --cert and --key: a client identity the target allows (the attacker is an authenticated caller)');
    run.target = {
      url: target.replace(/\/+$/, ''),
      ca: ca ? readFileArg('--ca', ca) : undefined,
      cert: cert ? readFileArg('--cert', cert) : undefined,
      key: key ? readFileArg('--key', key) : undefined,
      scenarioCertsDir: scenarioDir ? path.resolve(scenarioDir) : undefined,
      servername: one('--servername'),
    };
  } else if (ca || cert || key || scenarioDir || one('--servername')) {
    throw new UsageError('--ca, --cert, --key, --scenario-certs and --servername need --target (without it the local instance brings its own PKI)');
  }

  const spec = one('--spec');
  if (spec) run.spec = spec === 'target' ? {kind: 'target'} : {kind: 'file', file: path.resolve(spec)};

  const runtimeArg = one('--runtime');
  const execArg = one('--runtime-exec');
  if (runtimeArg !== undefined && execArg !== undefined) throw new UsageError('give either --runtime or --runtime-exec, not both');
  const runtime = execArg !== undefined ? `exec:${execArg}` : runtimeArg;
  if (runtime !== undefined) {
    if (runtime.startsWith('exec:')) {
      const command = splitCommand(runtime.slice('exec:'.length));
      if (command.length === 0)
        throw new UsageError('--runtime exec: needs a command (exec:"podman exec CONTAINER node /app/dist/src/escape/runtime-probe.js")');
      run.runtime = {mode: 'exec', command} satisfies RuntimeOptions;
    } else if (runtime === 'sandbox' || runtime === 'local') {
      // Both judge where THIS checkout runs, not a remote deployment: refuse the mix.
      if (target) throw new UsageError(`--runtime ${runtime} judges this machine, not the target: against --target use --runtime exec:"COMMAND"`);
      run.runtime = runtime === 'sandbox' ? {mode: 'sandbox'} : {mode: 'in-process'};
    } else {
      throw new UsageError(`--runtime must be local, sandbox or exec:COMMAND (got ${runtime})`);
    }
  }
  run.concurrency = num('--concurrency');
  run.timeoutMs = num('--timeout-ms');

  const reports = (values.get('--report') ?? []).flatMap(splitList);
  for (const r of reports)
    if (!(REPORT_FORMATS as readonly string[]).includes(r)) throw new UsageError(`--report must be junit, json, html or sarif (got ${r})`);
  return {
    run,
    reports: reports.length ? ([...new Set(reports)] as ReportFormat[]) : [...DEFAULT_REPORT_FORMATS],
    outDir: path.resolve(one('--out') ?? 'escape-report'),
    quiet: flags.has('--quiet'),
  };
}

const USAGE = `usage: npm run escape -- [--target https://HOST:PORT --ca FILE --cert FILE --key FILE [--scenario-certs DIR]]
         [--only CATEGORY] [--case ID] [--report junit|json|html|sarif] [--out DIR] [--spec FILE|target]
         [--runtime local|sandbox|exec:"COMMAND"] [--lenient-codes] [--servername NAME] [--concurrency N] [--timeout-ms N] [--quiet]
       npm run escape -- make-scenario-certs --issuer-cert F --issuer-key F --out DIR [--root-cert F --root-key F]
         [--allowed-dns NAME] [--trust-domain TD] [--operator-uri URI] [--operator-dns NAME]
categories: ${CATEGORIES.join(', ')}
See docs/escape-suite.md.
`;

function progressPrinter(write: (s: string) => void): (e: ProgressEvent) => void {
  return e => {
    if (e.kind === 'phase') write(`escape: ${e.message}\n`);
    else if (e.kind === 'start') write(`escape: running ${e.total} cases\n`);
    else if (e.kind === 'case' && e.result) {
      const r = e.result;
      const tag = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'N/A ';
      const width = String(e.total).length;
      const line = `[${String(e.index).padStart(width)}/${e.total}] ${tag} ${r.id} (${r.category}/${r.vector})`;
      write(r.status === 'passed' ? `${line}\n` : `${line}: ${r.reason}\n`);
    }
  };
}

async function makeScenarioCerts(argv: readonly string[]): Promise<number> {
  const v = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new UsageError(`make-scenario-certs: bad argument ${argv[i]}`);
    v.set(argv[i], argv[i + 1]);
  }
  for (const k of v.keys()) {
    if (
      ![
        '--issuer-cert',
        '--issuer-key',
        '--out',
        '--root-cert',
        '--root-key',
        '--allowed-dns',
        '--trust-domain',
        '--operator-uri',
        '--operator-dns',
      ].includes(k)
    )
      throw new UsageError(`make-scenario-certs: unknown argument ${k}`);
  }
  const need = (k: string) => {
    const x = v.get(k);
    if (!x) throw new UsageError(`make-scenario-certs: ${k} is required`);
    return x;
  };
  const issuer = await loadCaHandle(
    'issuer',
    readFileArg('--issuer-cert', need('--issuer-cert')).toString(),
    readFileArg('--issuer-key', need('--issuer-key')).toString(),
  );
  const root =
    v.has('--root-cert') || v.has('--root-key')
      ? await loadCaHandle(
          'root',
          readFileArg('--root-cert', need('--root-cert')).toString(),
          readFileArg('--root-key', need('--root-key')).toString(),
        )
      : undefined;
  const dir = path.resolve(need('--out'));
  const names = await generateScenarioCerts({dir, issuer, root, allowedDns: v.get('--allowed-dns'), trustDomain: v.get('--trust-domain')});
  const authz = await generateAuthzScenarioCerts({dir, operatorUri: v.get('--operator-uri'), operatorDns: v.get('--operator-dns')});
  names.push(...authz.written);
  process.stdout.write(
    `wrote ${names.length} scenario certificates to ${dir}: ${names.join(', ')}\n` +
      'copy the dev-PKI-style scenarios (valid, expired, not-yet-valid, revoked, wrong-san, no-eku, server-eku-only, ca-true, rsa-1024, untrusted) next to them,\n' +
      'and for the authz category a second admitted identity without the operator role as valid2.crt/.key.\n' +
      `authz: add ${authz.secondCaCert} to the target's client CA bundle and ${authz.secondCaCrl} to its CRLs, so that second-ca-operator is admitted and must be refused by the issuer binding.\n`,
  );
  return 0;
}

export async function runEscapeCli(argv: readonly string[]): Promise<number> {
  try {
    if (argv[0] === 'make-scenario-certs') return await makeScenarioCerts(argv.slice(1));
    const args = parseEscapeArgs(argv);
    const write = (s: string) => void process.stdout.write(s);
    fs.mkdirSync(args.outDir, {recursive: true});
    // The local instance's log (one audit line per refusal) goes next to the reports.
    const serviceLogFile = args.run.target ? undefined : path.join(args.outDir, 'local-service.log');
    const result = await runEscapeSuite({...args.run, serviceLogFile, onProgress: args.quiet ? undefined : progressPrinter(write)});
    const files = writeReports(result, args.outDir, args.reports);
    const t = result.totals;
    write(
      `\nescape: ${t.total} cases against ${result.target.kind} ${result.target.url}: ${t.passed} passed, ${t.failed} failed, ${t.notApplicable} not applicable\n`,
    );
    for (const [cat, ct] of Object.entries(result.byCategory)) {
      write(
        `  ${cat.padEnd(26)} ${String(ct.passed).padStart(4)} passed ${String(ct.failed).padStart(4)} failed ${String(ct.notApplicable).padStart(4)} n/a\n`,
      );
    }
    for (const n of result.notes) write(`note: ${n}\n`);
    for (const f of Object.values(files)) write(`report: ${f}\n`);
    if (serviceLogFile) write(`service log: ${serviceLogFile}\n`);
    return t.failed > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(e.message === 'help' ? USAGE : `escape: ${e.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`escape: cannot run: ${(e as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) {
  void runEscapeCli(process.argv.slice(2)).then(code => {
    process.exitCode = code;
  });
}
