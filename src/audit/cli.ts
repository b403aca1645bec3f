/**
 * `npm run audit:openapi -- FILE [options]`
 *
 * Audits any OpenAPI 3.x / Swagger 2.0 document (JSON or YAML) under the confined resolver policy
 * (src/audit/resolver.ts: only files under the spec's directory, regular files, byte caps, a time
 * bound, never the network).
 *
 *   --format text|json|sarif     output on stdout (default text); sarif = SARIF 2.1.0
 *   --fail-on high|medium|low|none   lowest severity that fails the run (default high)
 *   --baseline FILE              accepted findings (each with a reason); only new ones fail
 *   --write-baseline FILE        write the current findings as a baseline to fill in (reasons empty)
 *   --timeout-ms N  --max-file-bytes N  --max-total-bytes N   resolver bounds
 *
 * Exit status: 0 = nothing fails the gate, 1 = at least one new finding at or above --fail-on,
 * 2 = usage error, unreadable baseline, or the document itself was refused (OPENAPI_SPEC_REFUSED).
 */
import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {isAppError} from '../errors';
import {baselineFor, BaselineError, FAIL_ON_VALUES, FailOn, fingerprint, gate, loadBaseline, Baseline} from './gate';
import {auditOpenApi, AuditReport, formatReportText, OPENAPI_AUDIT_RULES, Severity} from './openapi-audit';
import {resolveSpecFile, ResolvePolicy, safeToken} from './resolver';
import {artifactUri, buildSarif, SarifLevel} from './sarif';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

const USAGE =
  'usage: audit-openapi FILE [--format text|json|sarif] [--fail-on high|medium|low|none] [--baseline FILE] [--write-baseline FILE] [--timeout-ms N] [--max-file-bytes N] [--max-total-bytes N]\n';
const FORMATS = ['text', 'json', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

const LEVEL: Record<Severity, SarifLevel> = {high: 'error', medium: 'warning', low: 'note', info: 'note'};
const SECURITY_SEVERITY: Record<Severity, number> = {high: 8.0, medium: 5.0, low: 3.0, info: 0.0};

/** Line numbers of path keys in a JSON or YAML text (one pass; for SARIF regions). */
export function pathKeyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /^[ \t]*(?:"(\/[^"\n]*)"[ \t]*:|'(\/[^'\n]*)'[ \t]*:|(\/[^\s:#]*)[ \t]*:(?:[ \t]|$))/gm;
  let m: RegExpExecArray | null;
  let line = 1;
  let last = 0;
  while ((m = re.exec(text))) {
    for (let i = last; i < m.index; i++) if (text.charCodeAt(i) === 10) line++;
    last = m.index;
    const key = m[1] ?? m[2] ?? m[3];
    if (!out.has(key)) out.set(key, line);
    if (m[0].length === 0) re.lastIndex++;
  }
  return out;
}

function lineOf(lines: Map<string, number>, p: string | undefined): number {
  if (!p || !p.startsWith('/')) return 1;
  for (let q = p; q.length > 0;) {
    const l = lines.get(q);
    if (l !== undefined) return l;
    const next = q.indexOf('/', 1);
    if (next < 0) break;
    q = q.slice(next);
  }
  return 1;
}

export function renderSarif(report: AuditReport, source: string, rootText?: string): string {
  const abs = path.resolve(source);
  const rel = path.relative(process.cwd(), abs);
  const uri = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? artifactUri(rel) : pathToFileURL(abs).href;
  const lines = rootText ? pathKeyLines(rootText) : new Map<string, number>();
  const log = buildSarif({
    toolName: 'hardened-mtls openapi-audit',
    toolVersion: '0.1.0',
    rules: Object.values(OPENAPI_AUDIT_RULES).map(r => ({
      id: r.id,
      description: r.description,
      level: LEVEL[r.severity],
      securitySeverity: SECURITY_SEVERITY[r.severity],
      tags: ['openapi'],
    })),
    results: report.findings.map(f => ({
      ruleId: f.ruleId,
      level: LEVEL[f.severity],
      message: `${f.method ? `${f.method} ${f.path} ` : ''}(${f.location}): ${f.message}`,
      uri,
      startLine: lineOf(lines, f.path),
      ...(f.method ? {logicalLocation: `${f.method} ${f.path}`} : {}),
      fingerprint: fingerprint(f),
      properties: {severity: f.severity, location: f.location, ...(f.confidence ? {confidence: f.confidence} : {})},
    })),
  });
  return JSON.stringify(log, null, 2) + '\n';
}

interface Args {
  file: string;
  format: Format;
  failOn: FailOn;
  baseline?: string;
  writeBaseline?: string;
  policy: Partial<ResolvePolicy>;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args | 'help' {
  let file: string | undefined;
  const a: Omit<Args, 'file'> = {format: 'text', failOn: 'high', policy: {}};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`${flag} must be a positive integer`);
      return Number(v);
    };
    switch (flag) {
      case '--format': {
        const v = value();
        if (!(FORMATS as readonly string[]).includes(v)) throw new UsageError('--format must be text, json or sarif');
        a.format = v as Format;
        break;
      }
      case '--fail-on': {
        const v = value();
        if (!(FAIL_ON_VALUES as readonly string[]).includes(v)) throw new UsageError('--fail-on must be high, medium, low or none');
        a.failOn = v as FailOn;
        break;
      }
      case '--baseline':
        a.baseline = value();
        break;
      case '--write-baseline':
        a.writeBaseline = value();
        break;
      case '--timeout-ms':
        a.policy = {...a.policy, timeoutMs: num()};
        break;
      case '--max-file-bytes':
        a.policy = {...a.policy, maxFileBytes: num()};
        break;
      case '--max-total-bytes':
        a.policy = {...a.policy, maxTotalBytes: num()};
        break;
      case '--help':
      case '-h':
        return 'help';
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${safeToken(arg, 40)}`);
        if (file !== undefined) throw new UsageError('only one FILE');
        file = arg;
    }
  }
  if (file === undefined) throw new UsageError('FILE is required');
  return {file, ...a};
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: Args;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      io.out(USAGE);
      return 0;
    }
    args = parsed;
  } catch (e) {
    io.err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  let baseline: Baseline | undefined;
  if (args.baseline) {
    try {
      baseline = await loadBaseline(args.baseline);
    } catch (e) {
      io.err(`${e instanceof BaselineError ? e.message : 'baseline: unreadable'}\n`);
      return 2;
    }
  }
  let report: AuditReport;
  let rootText: string | undefined;
  try {
    const resolved = await resolveSpecFile(args.file, args.policy);
    rootText = resolved.rootText;
    report = auditOpenApi(resolved.document, resolved.issues);
  } catch (e) {
    // Only coded, self-made messages are printed: never a library message that might quote input.
    const code = isAppError(e) ? `${e.code}/${String(e.details.reason ?? '')}` : 'OPENAPI_SPEC_REFUSED/internal';
    io.err(`cannot audit ${safeToken(args.file, 200)}: ${code}\n`);
    return 2;
  }
  const g = gate(report.findings, args.failOn, baseline);
  if (args.format === 'json') {
    io.out(
      JSON.stringify(
        {
          source: safeToken(args.file, 200),
          ...report,
          gate: {failOn: args.failOn, pass: g.pass, failing: g.failing.length, accepted: g.accepted.length, stale: g.stale.map(s => s.fingerprint)},
          fingerprints: report.findings.map(fingerprint),
        },
        null,
        2,
      ) + '\n',
    );
  } else if (args.format === 'sarif') {
    io.out(renderSarif(report, args.file, rootText));
  } else {
    io.out(formatReportText(report, args.file));
    io.out(
      `gate: --fail-on ${args.failOn}: ${g.failing.length} failing, ${g.accepted.length} accepted by the baseline, ${g.stale.length} stale baseline entr${g.stale.length === 1 ? 'y' : 'ies'} -> ${g.pass ? 'PASS' : 'FAIL'}\n`,
    );
  }
  if (args.writeBaseline) fs.writeFileSync(args.writeBaseline, JSON.stringify(baselineFor(report.findings), null, 2) + '\n', {mode: 0o644});
  return g.pass ? 0 : 1;
}

export function main(): void {
  runCli(process.argv.slice(2), {out: s => process.stdout.write(s), err: s => process.stderr.write(s)}).then(
    code => {
      process.exitCode = code;
    },
    () => {
      process.stderr.write('audit-openapi: internal error\n');
      process.exitCode = 2;
    },
  );
}

if (require.main === module) main();
