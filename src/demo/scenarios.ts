/**
 * The demo's scenarios, as data: the command a person would type (a real curl / openssl command
 * line with the stage's real paths), what the narration says will happen, why, and the
 * expectation the observed outcome is compared with.
 */
import path from 'node:path';
import type {DevClientName} from '../pki/dev-pki';
import {Expectation, LogExpectation, observeCurl, Observed, observeExit, observeSClient} from './outcome';
import {CommandResult, PROJECT_ROOT, ServiceProcess} from './processes';
import type {Stage} from './stage';

export interface DemoCommand {
  argv: string[];
  /** Printed instead of argv when set (e.g. `node dist/...` relative to the project). */
  display?: string[];
  /** stdin text; '' is shown as `</dev/null`. */
  stdin?: string;
  observe: (r: CommandResult) => Observed;
}

export interface Evidence {
  /** Why this extra command is shown. */
  label: string;
  command: DemoCommand;
  expect: Expectation;
}

export interface Scenario {
  id: string;
  title: string;
  /** Which service instance is exercised. */
  service: 'main' | 'ocspOnly';
  /** Done (and narrated) before the command runs. */
  before?: {say: string; run: (stage: Stage) => Promise<void>};
  command: DemoCommand;
  /** What the narration says will happen. */
  expected: string;
  /** Why it happens, and where the check lives. */
  why: string;
  expect: Expectation;
  /** A service log line that must appear (the audit record of the decision). */
  log?: LogExpectation;
  /** Extra commands that show the reason (e.g. `openssl verify`). */
  evidence?: Evidence[];
}

type Who = DevClientName | {cert: string; key: string} | undefined;

function credentials(stage: Stage, who: Who): string[] {
  if (who === undefined) return [];
  const c = typeof who === 'string' ? stage.pki.clients[who] : who;
  return ['--cert', c.cert, '--key', c.key];
}

function curl(stage: Stage, svc: ServiceProcess, who: Who, target: string, extra: string[] = []): DemoCommand {
  return {
    argv: ['curl', '-sS', '-i', '--max-time', '10', '--cacert', stage.pki.caBundle, ...credentials(stage, who), ...extra, `https://127.0.0.1:${svc.port}${target}`],
    observe: observeCurl,
  };
}

function sClient(stage: Stage, svc: ServiceProcess, who: DevClientName, extra: string[]): DemoCommand {
  const c = stage.pki.clients[who];
  return {
    argv: ['openssl', 's_client', '-connect', `127.0.0.1:${svc.port}`, '-servername', 'localhost', '-CAfile', stage.pki.caBundle, '-cert', c.cert, '-key', c.key, ...extra, '-brief'],
    stdin: '',
    observe: observeSClient,
  };
}

function opensslVerify(stage: Stage, who: DevClientName, expectText: RegExp, label: string): Evidence {
  return {
    label,
    command: {argv: ['openssl', 'verify', '-CAfile', stage.pki.caBundle, stage.pki.clients[who].cert], observe: observeExit},
    expect: {
      kind: 'exit',
      check: r =>
        r.exitCode !== 0 && expectText.test(r.stdout + r.stderr)
          ? undefined
          : `expected openssl verify to fail with ${expectText}, got exit ${r.exitCode}: ${(r.stdout + r.stderr).trim().split('\n').slice(0, 2).join(' | ')}`,
    },
  };
}

function serialOf(json: unknown): string | undefined {
  const s = (json as {serial?: unknown} | undefined)?.serial;
  return typeof s === 'string' ? s : undefined;
}

interface PostureCheck {
  id?: string;
  name?: string;
  status?: string;
  ok?: boolean;
  passed?: boolean;
}

/** The posture report's verdict must agree with its exit status, and with what we know of this process. */
function checkPosture(r: {exitCode: number | null; stdout: string}): string | undefined {
  let report: {compliant?: unknown; checks?: unknown};
  try {
    report = JSON.parse(r.stdout) as typeof report;
  } catch {
    return `the posture report is not JSON: ${r.stdout.slice(0, 120)}`;
  }
  if (typeof report.compliant !== 'boolean') return 'the posture report has no boolean "compliant"';
  if (!Array.isArray(report.checks) || report.checks.length === 0) return 'the posture report lists no checks';
  if ((r.exitCode === 0) !== report.compliant) return `exit status ${r.exitCode} disagrees with compliant=${report.compliant}`;
  if (typeof process.getuid === 'function' && process.getuid() === 0 && report.compliant) {
    return 'the demo runs as root, yet the posture report says compliant';
  }
  return undefined;
}

export function postureSummary(stdout: string): string {
  try {
    const report = JSON.parse(stdout) as {compliant?: boolean; checks?: PostureCheck[]};
    const checks = report.checks ?? [];
    const failing = checks.filter(c => c.status === 'fail' || c.ok === false || c.passed === false).map(c => c.id ?? c.name ?? '?');
    return `compliant=${report.compliant}; ${checks.length} checks${failing.length ? `; failing: ${failing.join(', ')}` : ''}`;
  } catch {
    return 'unparseable report';
  }
}

/** The scenarios in the order the demo runs them (the acceptance test checks the output against it). */
export const SCENARIO_IDS = [
  'valid-client', 'no-client-cert', 'untrusted-ca', 'expired-cert', 'wrong-san',
  'revoked-crl', 'tls12-downgrade', 'weak-cipher', 'posture-report',
] as const;

export function buildScenarios(stage: Stage): Scenario[] {
  const list = scenarioList(stage);
  const ids = list.map(s => s.id).join();
  if (ids !== SCENARIO_IDS.join()) throw new Error(`scenario list out of step with SCENARIO_IDS: ${ids}`);
  return list;
}

function scenarioList(stage: Stage): Scenario[] {
  const {pki, main} = stage;
  const rel = (p: string) => path.relative(PROJECT_ROOT, p);
  const wantSerial = (serial: string) => (json: unknown) =>
    serialOf(json) === serial ? undefined : `expected /whoami to name serial ${serial}, got ${serialOf(json) ?? 'none'}`;

  return [
    {
      id: 'valid-client',
      title: 'A valid client certificate',
      service: 'main',
      command: curl(stage, main, 'valid', '/whoami'),
      expected: 'HTTP 200 and the identity the authenticator built from the certificate',
      why:
        'TLS 1.3 with an allowed suite; the certificate chains to the dev intermediate in TLS_CA_FILE; the connection gate finds its serial on no CRL; ' +
        'the `mtls` authenticator re-checks chain, validity, clientAuth EKU, CA:FALSE and key strength, matches the SAN URI ' +
        `${pki.clients.valid.uri} against MTLS_ALLOWED_SUBJECTS, and gets "good" from the CRL index and the OCSP responder (src/auth/).`,
      expect: {kind: 'http', status: 200, check: wantSerial(pki.clients.valid.serialHex)},
      log: {event: 'auth.decision', decision: 'allow', serial: pki.clients.valid.serialHex},
    },
    {
      id: 'no-client-cert',
      title: 'No client certificate',
      service: 'main',
      command: curl(stage, main, undefined, '/whoami'),
      expected: 'the TLS handshake is refused with the "certificate required" alert; no HTTP response',
      why:
        'requestCert + rejectUnauthorized (src/tls/tls-options.ts): OpenSSL ends a TLS 1.3 handshake that carries no client certificate ' +
        'with alert 116 certificate_required. Not one HTTP byte is read.',
      expect: {kind: 'tls-alert', alert: 'certificate required'},
    },
    {
      id: 'untrusted-ca',
      title: 'A certificate from an untrusted CA (same name as our intermediate)',
      service: 'main',
      command: curl(stage, main, 'untrusted', '/whoami'),
      expected: 'the connection is closed right after the handshake; no HTTP response',
      why:
        'Its issuer carries the same subject name as the dev intermediate CA but another key, and no CA in TLS_CA_FILE signed it. ' +
        'Node verifies the client chain once the handshake completes and, with rejectUnauthorized, destroys the socket before reading ' +
        'any HTTP (src/tls/tls-options.ts); names are never trusted, signatures are.',
      expect: {kind: 'refused-before-http'},
      evidence: [opensslVerify(stage, 'untrusted', /unable to get local issuer certificate/, 'the reason, offline')],
    },
    {
      id: 'expired-cert',
      title: 'An expired client certificate',
      service: 'main',
      command: curl(stage, main, 'expired', '/whoami'),
      expected: 'the connection is closed right after the handshake; no HTTP response',
      why:
        `notAfter is ${pki.clients.expired.notAfter}. The TLS layer's chain verification fails on the validity period ` +
        '(X509_V_ERR_CERT_HAS_EXPIRED) and the socket is destroyed before any HTTP; the authenticator would refuse it too (AUTH_CERT_EXPIRED).',
      expect: {kind: 'refused-before-http'},
      evidence: [opensslVerify(stage, 'expired', /certificate has expired/, 'the reason, offline')],
    },
    {
      id: 'wrong-san',
      title: 'A trusted certificate whose identity is not on the allow-list',
      service: 'main',
      command: curl(stage, main, 'wrong-san', '/whoami'),
      expected: 'HTTP 403 AUTH_IDENTITY_NOT_ALLOWED, without echoing the certificate',
      why:
        'mTLS proves who the caller is, not what it may do: the certificate is trusted, current and has clientAuth, so TLS accepts it. ' +
        `Its SAN URI ${pki.clients['wrong-san'].uri} matches no MTLS_ALLOWED_SUBJECTS rule (${'`'}uri:spiffe://${'hardened-mtls.test'}/client/*${'`'}), ` +
        'so the authenticator refuses it (src/auth/identity-rules.ts); SANs are read from the DER, never from a subject string.',
      expect: {
        kind: 'http', status: 403, code: 'AUTH_IDENTITY_NOT_ALLOWED',
        check: json => {
          const text = JSON.stringify(json);
          if (Object.keys(json as object).join() !== 'error') return `the refusal carries more than {error}: ${text}`;
          return /evil\.test|wrong-san/.test(text) ? `the refusal echoes the certificate's names: ${text}` : undefined;
        },
      },
      log: {event: 'auth.decision', decision: 'deny', code: 'AUTH_IDENTITY_NOT_ALLOWED', serial: pki.clients['wrong-san'].serialHex},
    },
    {
      id: 'revoked-crl',
      title: 'A certificate revoked by the CRL',
      service: 'main',
      command: curl(stage, main, 'revoked', '/whoami'),
      expected: 'the connection gate closes the connection after the handshake; no HTTP response; audit line AUTH_CERT_REVOKED',
      why:
        `Its serial ${pki.clients.revoked.serialHex} is listed in ${path.basename(pki.crls.intermediate)} (TLS_CRL_FILES). The connection gate ` +
        '(src/tls/connection-gate.ts) looks every new TLS session up in the CRL index on secureConnection (resumed sessions too) and destroys ' +
        "the socket before any HTTP is parsed. The CRLs are indexed by the service, never handed to OpenSSL's per-handshake `crl` option.",
      expect: {kind: 'refused-before-http'},
      log: {event: 'tls.connection', decision: 'deny', code: 'AUTH_CERT_REVOKED', serial: pki.clients.revoked.serialHex},
    },
    {
      id: 'tls12-downgrade',
      title: 'A client that only speaks TLS 1.2',
      service: 'main',
      command: sClient(stage, main, 'valid', ['-tls1_2']),
      expected: 'the handshake is refused with the "protocol version" alert',
      why: 'minVersion = maxVersion = TLSv1.3 (src/tls/tls-options.ts): a ClientHello capped at TLS 1.2 gets alert 70 protocol_version. No downgrade, no TLS 1.2 cipher negotiation at all.',
      expect: {kind: 'tls-alert', alert: 'protocol version'},
    },
    {
      id: 'weak-cipher',
      title: 'A client offering only a weak TLS 1.3 suite',
      service: 'main',
      command: sClient(stage, main, 'valid', ['-tls1_3', '-ciphersuites', 'TLS_AES_128_CCM_8_SHA256']),
      expected: 'the handshake is refused with the "handshake failure" alert',
      why:
        'The default TLS_CIPHER_PROFILE allows TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 only (src/config/config.ts); ' +
        'TLS_AES_128_CCM_8_SHA256 (8-byte authentication tag) is not among them, so there is no shared suite: alert 40 handshake_failure.',
      expect: {kind: 'tls-alert', alert: 'handshake failure'},
    },
    {
      id: 'posture-report',
      title: 'The runtime posture report',
      service: 'main',
      command: {
        argv: [process.execPath, path.join(PROJECT_ROOT, 'dist', 'src', 'posture', 'cli.js'), '--format', 'json'],
        display: ['node', rel(path.join(PROJECT_ROOT, 'dist', 'src', 'posture', 'cli.js')), '--format', 'json'],
        observe: observeExit,
      },
      expected: 'a JSON report of this process: exit 0 when compliant, 1 when not (root, capabilities, writable root, a runtime socket, ...)',
      why:
        'The same self-check the service runs at start-up (POSTURE_MODE; `enforce` in production and in the image refuses to start when privileged). ' +
        'It is what `npm run posture -- --format json` runs after building (src/posture/).',
      expect: {kind: 'exit', check: checkPosture},
    },
  ];
}

