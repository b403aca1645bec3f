/**
 * Offline verifier: runs the MtlsAuthenticator (the same code the `mtls` strategy runs) on a
 * certificate file, without a TLS connection, and prints the verdict.
 *
 *   npm run verify-cert -- --ca FILE [--crl FILE ...] [--ocsp-url URL] [--revocation crl|ocsp|crl,ocsp|none]
 *       [--revocation-fail closed|open] [--allow RULES] [--max-depth N] [--skew SEC] [--at ISO-TIME]
 *       [--format text|json] [--explain] [--purpose client|any] CERT.pem [CHAIN.pem]
 *
 * --explain reports the RFC 5280 path verdict (parse, chain incl. name constraints, validity,
 * revocation) apart from local policy (EKU clientAuth, CA:FALSE, key usage, key strength,
 * allow-list, depth limit): "path valid, refused by local policy: AUTH_EKU_NOT_CLIENT_AUTH".
 * --purpose any (CLI only) decides on the path alone (the depth limit becomes 8).
 *
 * Exit status: 0 accepted, 1 refused, 2 usage error, 78 unreadable/invalid configuration input.
 * Output goes to stdout (process.stdout.write); audit lines go to stderr when LOG_LEVEL is set.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import {parseArgs} from 'node:util';
import {isCidrText, RevocationSource} from '../config/config';
import {AppError, isAppError} from '../errors';
import {RevocationIndex} from '../tls/revocation/revocation-index';
import {createLogger} from '../logging/logger';
import {pemToDerList} from '../x509/pem';
import {IdentityRuleError, parseIdentityRules} from '../identity/identity-rules';
import type {CheckOutcome} from './certificate-policy';
import {AuthResult, MtlsAuthenticator, RevocationLookup} from './mtls-authenticator';
import {OcspClient} from './ocsp-client';
import type {OcspTransport} from './ocsp-transport';
import {createRevocationTransport, RevocationTransport} from './revocation-transport';

/** Time bound of one OCSP exchange (as the service's MTLS_OCSP_TIMEOUT_MS default). */
const OCSP_TIMEOUT_MS = 2000;

export const EXIT = {accepted: 0, refused: 1, usage: 2, config: 78} as const;

export const USAGE =
  'usage: verify-cert --ca FILE [--crl FILE ...] [--ocsp-url URL] [--allow-cidr CIDR ...] [--revocation crl|ocsp|crl,ocsp|none]\n' +
  '                   [--revocation-fail closed|open] [--allow RULES] [--max-depth N] [--skew SEC]\n' +
  '                   [--at ISO-TIME] [--format text|json] [--explain] [--purpose client|any] CERT.pem [CHAIN.pem]\n';

class UsageError extends Error {}

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /**
   * How OCSP requests leave. Default: the service's SSRF-safe revocation transport (the responder
   * URL comes from --ocsp-url or from the certificate under inspection, so it is not trusted:
   * private, loopback, link-local and metadata addresses are refused unless --allow-cidr names them).
   */
  ocspTransport?: OcspTransport;
  /** CRL source (default: RevocationIndex.load from src/tls/revocation). */
  loadCrl?: (files: readonly string[], cas: readonly crypto.X509Certificate[], now: Date) => Promise<RevocationLookup>;
}

function readPemFile(file: string, what: string): Buffer[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new AppError('TLS_MATERIAL_UNREADABLE', `${what}: cannot read ${file}`, {file}, {cause: e});
  }
  const ders = pemToDerList(text);
  if (ders.length === 0) throw new AppError('TLS_MATERIAL_UNREADABLE', `${what}: no PEM certificate in ${file}`, {file});
  return ders;
}

function int(v: string | undefined, name: string, def: number, max: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) > max) throw new UsageError(`${name} must be a whole number <= ${max}`);
  return Number(v);
}

/** The service's own CRL index (same loader, same checks as start-up: a bad or expired CRL is a config error). */
async function defaultLoadCrl(files: readonly string[], cas: readonly crypto.X509Certificate[], now: Date): Promise<RevocationLookup> {
  return RevocationIndex.load(files, cas, now);
}

/** Checks that make up the RFC 5280 path verdict (§6.1: parse, chain and name constraints, validity, revocation); every other check is local policy. */
const PATH_CHECKS: ReadonlySet<string> = new Set(['tls', 'parse', 'chain', 'validity', 'revocation']);

export interface SplitVerdict {
  readonly path: {readonly valid: boolean; readonly failed?: CheckOutcome};
  readonly policy: {readonly accepted: boolean; readonly failed?: CheckOutcome};
}

/**
 * The explain checks split into the RFC 5280 path verdict and local policy. The depth limit
 * (AUTH_CHAIN_TOO_DEEP) is local policy although reported by the chain check; a revocation
 * soft-fail is not a failure.
 */
export function splitVerdict(checks: readonly CheckOutcome[]): SplitVerdict {
  const isPath = (c: CheckOutcome) => PATH_CHECKS.has(c.check) && c.code !== 'AUTH_CHAIN_TOO_DEEP';
  const pathFailed = checks.find(c => !c.ok && isPath(c));
  const policyFailed = checks.find(c => !c.ok && !isPath(c));
  return {
    path: {valid: pathFailed === undefined, ...(pathFailed ? {failed: pathFailed} : {})},
    policy: {accepted: policyFailed === undefined, ...(policyFailed ? {failed: policyFailed} : {})},
  };
}

function describe(c: CheckOutcome): string {
  return `${c.code ?? c.check}${c.detail ? `: ${c.detail}` : ''}`;
}

function render(result: AuthResult, format: 'text' | 'json', explain: boolean, purpose: 'client' | 'any'): string {
  const split = result.checks ? splitVerdict(result.checks) : undefined;
  const accepted = purpose === 'any' ? split?.path.valid === true : result.ok;
  if (format === 'json') {
    const body =
      purpose === 'any'
        ? {accepted, purpose, ...(split?.path.failed ? {code: split.path.failed.code, reason: split.path.failed.detail} : {})}
        : result.ok
          ? {
              accepted: true,
              profile: result.profile,
              revocationSource: result.revocationSource,
              revocationSoftFail: result.revocationSoftFail,
              matchedRule: result.matchedRule,
            }
          : {accepted: false, code: result.code, reason: result.reason};
    return JSON.stringify(explain ? {...body, path: split?.path, policy: split?.policy, checks: result.checks ?? []} : body) + '\n';
  }
  const lines: string[] = [];
  if (purpose === 'any') {
    lines.push(
      accepted
        ? 'PATH VALID (purpose any: local policy not applied)'
        : `PATH INVALID ${split?.path.failed ? describe(split.path.failed) : ''}`.trimEnd(),
    );
  } else if (result.ok) {
    lines.push(`ACCEPTED ${result.profile.subject}`);
    lines.push(`  serial ${result.profile.serial}  issuer ${result.profile.issuer}`);
    lines.push(
      `  revocation ${result.revocationSource}${result.revocationSoftFail ? ' (soft-fail: AUTH_REVOCATION_SOFT_FAIL)' : ''}${result.matchedRule ? `  rule ${result.matchedRule}` : ''}`,
    );
  } else {
    lines.push(`REFUSED ${result.code}: ${result.reason}`);
  }
  if (explain && split) {
    lines.push(`  RFC 5280 path: ${split.path.valid ? 'valid' : `invalid (${describe(split.path.failed!)})`}`);
    lines.push(
      `  local policy: ${split.policy.accepted ? 'accepted' : `refused (${describe(split.policy.failed!)})`}${purpose === 'any' ? ' [not applied: --purpose any]' : ''}`,
    );
    for (const c of result.checks ?? []) {
      lines.push(
        `  [${c.ok ? (c.code ? 'warn' : ' ok ') : 'FAIL'}] ${c.check.padEnd(16)} ${c.code ?? ''}${c.detail ? ` ${c.detail}` : ''}`.trimEnd(),
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** Run the CLI; resolves with the exit status. Never throws. */
export async function runVerifyCert(argv: readonly string[], io: CliIo): Promise<number> {
  let transport: RevocationTransport | undefined;
  try {
    const {values, positionals} = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        ca: {type: 'string', multiple: true},
        crl: {type: 'string', multiple: true},
        'ocsp-url': {type: 'string'},
        'allow-cidr': {type: 'string', multiple: true},
        revocation: {type: 'string'},
        'revocation-fail': {type: 'string'},
        allow: {type: 'string'},
        'max-depth': {type: 'string'},
        skew: {type: 'string'},
        at: {type: 'string'},
        format: {type: 'string'},
        explain: {type: 'boolean'},
        purpose: {type: 'string'},
        help: {type: 'boolean'},
      },
    });
    if (values.help) {
      io.stdout(USAGE);
      return EXIT.accepted;
    }
    if (!values.ca || values.ca.length === 0) throw new UsageError('--ca is required');
    if (positionals.length < 1 || positionals.length > 2) throw new UsageError('expected CERT.pem [CHAIN.pem]');
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--format must be text or json');
    const purpose = values.purpose ?? 'client';
    if (purpose !== 'client' && purpose !== 'any') throw new UsageError('--purpose must be client or any');
    const fail = values['revocation-fail'] ?? 'closed';
    if (fail !== 'closed' && fail !== 'open') throw new UsageError('--revocation-fail must be closed or open');
    let at: Date | undefined;
    if (values.at !== undefined) {
      at = new Date(values.at);
      if (Number.isNaN(at.getTime())) throw new UsageError('--at must be an ISO-8601 time');
    }
    const ocspUrl = values['ocsp-url'];
    if (ocspUrl !== undefined) {
      let u: URL;
      try {
        u = new URL(ocspUrl);
      } catch {
        throw new UsageError('--ocsp-url must be an http(s) URL');
      }
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password)
        throw new UsageError('--ocsp-url must be an http(s) URL without userinfo');
    }
    const allowedCidrs = values['allow-cidr'] ?? [];
    for (const c of allowedCidrs) {
      if (!isCidrText(c)) throw new UsageError(`--allow-cidr: "${c}" is not a CIDR`);
    }
    const crlFiles = values.crl ?? [];
    let revocation: RevocationSource[];
    if (values.revocation === undefined) {
      revocation = [...(crlFiles.length > 0 ? (['crl'] as const) : []), ...(ocspUrl !== undefined ? (['ocsp'] as const) : [])];
    } else if (values.revocation === 'none') {
      revocation = [];
    } else {
      revocation = [];
      for (const s of values.revocation.split(',').map(x => x.trim())) {
        if (s !== 'crl' && s !== 'ocsp') throw new UsageError('--revocation must be crl, ocsp, crl,ocsp or none');
        if (!revocation.includes(s)) revocation.push(s);
      }
    }
    if (revocation.includes('crl') && crlFiles.length === 0) throw new UsageError('--revocation crl needs --crl FILE');
    let allowedSubjects = null;
    if (values.allow !== undefined) {
      try {
        allowedSubjects = parseIdentityRules(values.allow);
      } catch (e) {
        if (e instanceof IdentityRuleError) throw new UsageError(`--allow: ${e.message}`);
        throw e;
      }
    }
    const maxChainDepth = int(values['max-depth'], '--max-depth', purpose === 'any' ? 8 : 2, 8);
    const clockSkewSec = int(values.skew, '--skew', 0, 3600);

    const caDers = values.ca.flatMap(f => readPemFile(f, '--ca'));
    const [leafDer, ...inlineChain] = readPemFile(positionals[0], 'CERT');
    const chainDer = [...inlineChain, ...(positionals[1] ? readPemFile(positionals[1], 'CHAIN') : [])];
    const now = () => at ?? new Date();

    const logger = createLogger({level: process.env.LOG_LEVEL ?? 'silent', destination: {write: (s: string) => io.stderr(s)}, name: 'verify-cert'});
    let crl: RevocationLookup | undefined;
    if (revocation.includes('crl')) {
      crl = await (io.loadCrl ?? defaultLoadCrl)(
        crlFiles,
        caDers.map(d => new crypto.X509Certificate(d)),
        now(),
      );
    }
    if (revocation.includes('ocsp') && !io.ocspTransport) {
      transport = createRevocationTransport({mtls: {ocspUrl, ocspTimeoutMs: OCSP_TIMEOUT_MS}, outbound: {allowedPorts: [], allowedCidrs}}, logger);
    }
    const ocspTransport = io.ocspTransport ?? transport?.ocsp;
    const ocsp = revocation.includes('ocsp')
      ? new OcspClient({
          ...(ocspUrl !== undefined ? {url: ocspUrl} : {}),
          clockSkewSec,
          clock: now,
          timeoutMs: OCSP_TIMEOUT_MS,
          ...(ocspTransport ? {transport: ocspTransport} : {}),
        })
      : undefined;
    const authenticator = new MtlsAuthenticator(
      {trustAnchors: caDers, allowedSubjects, revocation, revocationFail: fail, maxChainDepth, clockSkewSec},
      {logger, clock: now, ...(crl ? {revocation: crl} : {}), ...(ocsp ? {ocsp} : {})},
    );
    const explain = values.explain === true;
    // --purpose any judges the path alone: every check is run (explain) and only path checks decide.
    const result = await authenticator.authenticate({leafDer, chainDer, tlsAuthorized: true}, {explain: explain || purpose === 'any'});
    io.stdout(render(result, format, explain, purpose));
    const accepted = purpose === 'any' ? result.checks !== undefined && splitVerdict(result.checks).path.valid : result.ok;
    return accepted ? EXIT.accepted : EXIT.refused;
  } catch (e) {
    if (e instanceof UsageError || (e as {code?: string})?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      io.stderr(`verify-cert: ${(e as Error).message}\n${USAGE}`);
      return EXIT.usage;
    }
    if (isAppError(e)) {
      io.stderr(`verify-cert: ${e.code}: ${e.message}\n`);
      return EXIT.config;
    }
    io.stderr('verify-cert: INTERNAL_ERROR\n');
    return EXIT.config;
  } finally {
    await transport?.close().catch(() => undefined);
  }
}

if (require.main === module) {
  // runVerifyCert never rejects (it resolves with the exit status).
  void runVerifyCert(process.argv.slice(2), {
    stdout: s => process.stdout.write(s),
    stderr: s => process.stderr.write(s),
  }).then(code => {
    process.exitCode = code;
  });
}
