/**
 * The demo's scenarios, as data: the command a person would type (a real curl / openssl command
 * line with the stage's real paths), what the narration says will happen, why, and the
 * expectation the observed outcome is compared with.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {DevClientName} from '../pki/dev-pki';
import {Expectation, LogExpectation, observeCurl, Observed, observeExit, observeSClient} from './outcome';
import {CommandResult, PROJECT_ROOT, ServiceProcess} from './processes';
import {DEMO_ALLOWED_SUBJECTS, Stage} from './stage';

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
  /** A log line of the scenario's service that this command must produce. */
  log?: LogExpectation;
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

const JSON_HEADER = ['-H', 'content-type: application/json'];

function curl(stage: Stage, svc: ServiceProcess, who: Who, target: string, extra: string[] = []): DemoCommand {
  return {
    argv: [
      'curl',
      '-sS',
      '-i',
      '--max-time',
      '10',
      '--cacert',
      stage.pki.caBundle,
      ...credentials(stage, who),
      ...extra,
      `https://127.0.0.1:${svc.port}${target}`,
    ],
    observe: observeCurl,
  };
}

function sClient(stage: Stage, svc: ServiceProcess, who: DevClientName, extra: string[]): DemoCommand {
  const c = stage.pki.clients[who];
  return {
    argv: [
      'openssl',
      's_client',
      '-connect',
      `127.0.0.1:${svc.port}`,
      '-servername',
      'localhost',
      '-CAfile',
      stage.pki.caBundle,
      '-cert',
      c.cert,
      '-key',
      c.key,
      ...extra,
      '-brief',
    ],
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

interface PostureFinding {
  id: string;
  ok: boolean;
  severity: string;
}
interface PostureReport {
  compliant: boolean;
  findings: PostureFinding[];
  failed: string[];
}

function parsePosture(stdout: string): PostureReport | string {
  let r: Partial<PostureReport>;
  try {
    r = JSON.parse(stdout) as Partial<PostureReport>;
  } catch {
    return `the posture report is not JSON: ${stdout.slice(0, 120)}`;
  }
  if (typeof r.compliant !== 'boolean') return 'the posture report has no boolean "compliant"';
  if (!Array.isArray(r.findings) || r.findings.length === 0) return 'the posture report lists no findings';
  if (!Array.isArray(r.failed)) return 'the posture report has no "failed" list';
  return r as PostureReport;
}

/** This process's effective capability set, from /proc (undefined off Linux). */
function ownEffectiveCaps(): bigint | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The report must be consistent (exit status, `compliant`, `failed`, the findings' severities)
 * and agree with what the demo can see of itself: the posture CLI runs with the demo's uid and
 * capabilities, so a root demo must get a failed `user-non-root`, a capable one a failed
 * `caps-effective-empty`, and the reverse.
 */
function checkPosture(r: {exitCode: number | null; stdout: string}): string | undefined {
  const report = parsePosture(r.stdout);
  if (typeof report === 'string') return report;
  if ((r.exitCode === 0) !== report.compliant) return `exit status ${r.exitCode} disagrees with compliant=${report.compliant}`;
  const blocking = report.findings.filter(f => !f.ok && f.severity !== 'low').map(f => f.id);
  if (blocking.join() !== report.failed.join())
    return `"failed" (${report.failed.join(',')}) is not the failed high/medium findings (${blocking.join(',')})`;
  if (report.compliant !== (blocking.length === 0)) return `compliant=${report.compliant} with ${blocking.length} blocking findings`;
  const finding = (id: string) => report.findings.find(f => f.id === id);
  const user = finding('user-non-root');
  if (!user) return 'no user-non-root finding';
  if (typeof process.getuid === 'function' && user.ok !== (process.getuid() !== 0)) {
    return `user-non-root ok=${user.ok}, but the demo runs as uid ${process.getuid()}`;
  }
  const caps = ownEffectiveCaps();
  const capsFinding = finding('caps-effective-empty');
  if (!capsFinding) return 'no caps-effective-empty finding';
  if (caps !== undefined && capsFinding.ok !== (caps === 0n)) {
    return `caps-effective-empty ok=${capsFinding.ok}, but the demo's CapEff is ${caps.toString(16)}`;
  }
  return undefined;
}

export function postureSummary(stdout: string): string {
  const report = parsePosture(stdout);
  if (typeof report === 'string') return report;
  const shown = report.failed.slice(0, 6).join(', ');
  const more = report.failed.length > 6 ? ` and ${report.failed.length - 6} more` : '';
  return `compliant=${report.compliant}; ${report.findings.length} findings` + (report.failed.length ? `; failed: ${shown}${more}` : '; none failed');
}

/** The scenarios in the order the demo runs them (the acceptance test checks the output against it). */
export const SCENARIO_IDS = [
  'valid-client',
  'no-client-cert',
  'untrusted-ca',
  'expired-cert',
  'wrong-san',
  'authenticated-not-authorized',
  'right-san-wrong-ca',
  'no-client-auth-eku',
  'revoked-crl',
  'revoked-ocsp',
  'ocsp-responder-down',
  'tls12-downgrade',
  'weak-cipher',
  'docker-socket-path',
  'proc-traversal',
  'ssrf-metadata',
  'posture-report',
] as const;

export function buildScenarios(stage: Stage): Scenario[] {
  const list = scenarioList(stage);
  const ids = list.map(s => s.id).join();
  if (ids !== SCENARIO_IDS.join()) throw new Error(`scenario list out of step with SCENARIO_IDS: ${ids}`);
  return list;
}

function scenarioList(stage: Stage): Scenario[] {
  const {pki, main, ocspOnly, ocspRevoked, responder} = stage;
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
      log: {event: 'auth.decision', decision: 'allow', serial: pki.clients.valid.serialHex, fields: {source: 'crl,ocsp'}},
    },
    {
      id: 'no-client-cert',
      title: 'No client certificate',
      service: 'main',
      command: curl(stage, main, undefined, '/whoami'),
      expected: 'HTTP 401 AUTH_NO_CLIENT_CERT from the connection gate, then the connection is closed',
      why:
        'The connection gate (src/tls/connection-gate.ts) judges every client the moment its TLS handshake completes and, like nginx, tells ' +
        'a refused one why: it reads and discards the first request head, answers a fixed coded 401 with `Connection: close` and ends the ' +
        'TLS stream. The request never reaches the HTTP parser, routing or any handler (docs/architecture.md, "Refused clients learn why").',
      expect: {kind: 'http', status: 401, code: 'AUTH_NO_CLIENT_CERT'},
      log: {event: 'tls.connection', decision: 'deny', code: 'AUTH_NO_CLIENT_CERT', fields: {reason: 'NO_CLIENT_CERT'}},
    },
    {
      id: 'untrusted-ca',
      title: 'A certificate from an untrusted CA (same name as our intermediate)',
      service: 'main',
      command: curl(stage, main, 'untrusted', '/whoami'),
      expected: 'HTTP 401 AUTH_CERT_UNTRUSTED from the connection gate; the request never reaches routing',
      why:
        'Its issuer carries the same subject name as the dev intermediate CA but another key, and no CA in TLS_CA_FILE signed it. ' +
        'OpenSSL verifies the chain during the handshake; the connection gate reads its verdict and answers the coded refusal on the raw ' +
        'TLS socket, so the client learns why instead of seeing a reset. Names are never trusted, signatures are.',
      expect: {kind: 'http', status: 401, code: 'AUTH_CERT_UNTRUSTED'},
      log: {event: 'tls.connection', decision: 'deny', code: 'AUTH_CERT_UNTRUSTED', serial: pki.clients.untrusted.serialHex},
      evidence: [opensslVerify(stage, 'untrusted', /unable to get local issuer certificate/, 'the reason, offline')],
    },
    {
      id: 'expired-cert',
      title: 'An expired client certificate',
      service: 'main',
      command: curl(stage, main, 'expired', '/whoami'),
      expected: 'HTTP 401 AUTH_CERT_EXPIRED from the connection gate; the request never reaches routing',
      why:
        `notAfter is ${pki.clients.expired.notAfter}. The handshake's chain verification fails on the validity period ` +
        '(X509_V_ERR_CERT_HAS_EXPIRED); the connection gate answers the coded refusal before any HTTP is parsed, and its audit line keeps ' +
        'the exact reason (CERT_HAS_EXPIRED).',
      expect: {kind: 'http', status: 401, code: 'AUTH_CERT_EXPIRED'},
      log: {
        event: 'tls.connection',
        decision: 'deny',
        code: 'AUTH_CERT_EXPIRED',
        serial: pki.clients.expired.serialHex,
        fields: {reason: 'CERT_HAS_EXPIRED'},
      },
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
        `Its SAN URI ${pki.clients['wrong-san'].uri} matches no MTLS_ALLOWED_SUBJECTS rule (${DEMO_ALLOWED_SUBJECTS}), ` +
        'so the authenticator refuses it (src/identity/identity-rules.ts); SANs are read from the DER, never from a subject string.',
      expect: {
        kind: 'http',
        status: 403,
        code: 'AUTH_IDENTITY_NOT_ALLOWED',
        check: json => {
          const text = JSON.stringify(json);
          if (Object.keys(json as object).join() !== 'error') return `the refusal carries more than {error}: ${text}`;
          return /evil\.test|wrong-san/.test(text) ? `the refusal echoes the certificate's names: ${text}` : undefined;
        },
      },
      log: {event: 'auth.decision', decision: 'deny', code: 'AUTH_IDENTITY_NOT_ALLOWED', serial: pki.clients['wrong-san'].serialHex},
    },
    {
      id: 'authenticated-not-authorized',
      title: 'Authenticated but not authorized: a second client calls an operator-only route',
      service: 'main',
      command: curl(stage, main, 'valid2', '/fetch', [...JSON_HEADER, '--data', '{"url":"https://example.com/"}']),
      expected: 'HTTP 403 AUTHZ_DENIED: the identity is admitted, but POST /fetch is for the operator role only',
      why:
        `${pki.clients.valid2.uri} passes every certificate check and the allow-list, so GET /whoami and /ping answer it. POST /fetch ` +
        "carries @authorize({allowedRoles: ['operator']}) and the role policy (MTLS_POLICY_FILE) gives operator to " +
        `${pki.clients.valid.uri} only: the authorizer (src/authz/authorization.middleware.ts) refuses before the body is parsed, ` +
        'and its authz.decision line says which roles were allowed and that no rule matched.',
      expect: {kind: 'http', status: 403, code: 'AUTHZ_DENIED'},
      log: {
        event: 'authz.decision',
        decision: 'deny',
        code: 'AUTHZ_DENIED',
        serial: pki.clients.valid2.serialHex,
        fields: {operation: 'FetchController.fetch'},
      },
    },
    {
      id: 'right-san-wrong-ca',
      title: "Right SAN, wrong CA: the operator's name on a certificate from a second trusted CA",
      service: 'main',
      command: curl(stage, main, stage.secondCaOperator, '/openapi.json'),
      expected: 'HTTP 403 AUTHZ_ISSUER_MISMATCH: the SAN matches the operator rule, but the rule is bound to the dev intermediate CA',
      why:
        `A second CA sits in TLS_CA_FILE (a rotation, a partner CA), and it issued a certificate carrying ${pki.clients.valid.uri}. ` +
        'TLS and the authenticator accept it (trusted chain, allowed SAN). The policy binds the operator role to the SHA-256 ' +
        "fingerprint of the dev intermediate CA (`issuers:`), which is not on this certificate's verified path, so the same SAN " +
        'string does not make it the operator (src/identity/role-policy.ts).',
      expect: {kind: 'http', status: 403, code: 'AUTHZ_ISSUER_MISMATCH'},
      log: {event: 'authz.decision', decision: 'deny', code: 'AUTHZ_ISSUER_MISMATCH', fields: {role: 'operator'}},
    },
    {
      id: 'no-client-auth-eku',
      title: 'A trusted certificate without the clientAuth extended key usage',
      service: 'main',
      command: curl(stage, main, 'no-eku', '/whoami'),
      expected: 'HTTP 403 AUTH_EKU_NOT_CLIENT_AUTH',
      why:
        'The certificate has no extendedKeyUsage extension at all. OpenSSL treats a missing EKU as "any purpose", so the TLS layer ' +
        'accepts it; the connection gate and the authenticator require id-kp-clientAuth explicitly (src/tls/connection-gate.ts, ' +
        'src/auth/certificate-policy.ts), so a server or code-signing certificate from the same CA cannot be used as a client identity.',
      expect: {kind: 'http', status: 403, code: 'AUTH_EKU_NOT_CLIENT_AUTH'},
      log: {
        event: 'tls.connection',
        decision: 'deny',
        code: 'AUTH_EKU_NOT_CLIENT_AUTH',
        serial: pki.clients['no-eku'].serialHex,
        fields: {reason: 'NO_EXTENDED_KEY_USAGE'},
      },
    },
    {
      id: 'revoked-crl',
      title: 'A certificate revoked by the CRL',
      service: 'main',
      command: curl(stage, main, 'revoked', '/whoami'),
      expected: 'HTTP 401 AUTH_CERT_REVOKED from the connection gate, before any HTTP is parsed; audit line AUTH_CERT_REVOKED',
      why:
        `Its serial ${pki.clients.revoked.serialHex} is listed in ${path.basename(pki.crls.intermediate)} (TLS_CRL_FILES). The connection gate ` +
        '(src/tls/connection-gate.ts) looks every new TLS session up in the CRL index on secureConnection (resumed sessions too) and answers ' +
        "the coded refusal itself; the socket is never handed to the HTTP server. The CRLs are indexed by the service, never handed to OpenSSL's per-handshake `crl` option.",
      expect: {kind: 'http', status: 401, code: 'AUTH_CERT_REVOKED'},
      log: {event: 'tls.connection', decision: 'deny', code: 'AUTH_CERT_REVOKED', serial: pki.clients.revoked.serialHex},
    },
    {
      id: 'revoked-ocsp',
      title: 'A certificate revoked after the CRL was published: OCSP knows',
      service: 'main',
      command: curl(stage, main, {cert: ocspRevoked.cert, key: ocspRevoked.key}, '/whoami'),
      expected: 'HTTP 401 AUTH_CERT_REVOKED, the audit line naming OCSP as the source',
      why:
        `${path.basename(ocspRevoked.cert)} is not on the CRL, so the connection gate lets the connection through; the responder's ` +
        `index (${path.basename(pki.opensslIndex)}) marks it revoked. With MTLS_REVOCATION=crl,ocsp the authenticator consults the CRL ` +
        'index (good), then POSTs an OCSP request with a fresh nonce to MTLS_OCSP_URL through the SSRF-safe revocation transport ' +
        '(src/auth/revocation-transport.ts) and verifies the signed answer itself (responder certificate issued by the CA with ' +
        'id-kp-OCSPSigning, CertID, nonce, thisUpdate/nextUpdate): revoked wins (src/auth/ocsp-client.ts).',
      expect: {kind: 'http', status: 401, code: 'AUTH_CERT_REVOKED'},
      log: {event: 'auth.decision', decision: 'deny', code: 'AUTH_CERT_REVOKED', serial: ocspRevoked.serialHex, matches: {reason: /ocsp: revoked/}},
    },
    {
      id: 'ocsp-responder-down',
      title: 'The OCSP responder is down, revocation fails closed',
      service: 'ocspOnly',
      before: {
        say: `take the OCSP responder down (its listener ${responder.url} is closed); use the second service, where OCSP is the only revocation source`,
        run: async s => {
          await s.responder.stop();
        },
      },
      command: curl(stage, ocspOnly, 'valid', '/whoami'),
      expected: 'HTTP 401 AUTH_REVOCATION_UNKNOWN for a client that is otherwise valid',
      why:
        'This instance runs MTLS_REVOCATION=ocsp and MTLS_REVOCATION_FAIL=closed. The lookup cannot reach the responder, so the status ' +
        'is unknown (the audit reason names the failed connection), and unknown is a refusal: a responder outage (or an attacker blocking it) must not turn revocation off. With ' +
        'MTLS_REVOCATION_FAIL=open the request would pass with a logged AUTH_REVOCATION_SOFT_FAIL warning (src/auth/mtls-authenticator.ts).',
      expect: {kind: 'http', status: 401, code: 'AUTH_REVOCATION_UNKNOWN'},
      // The reason must be the unreachable responder (not, say, an address the SSRF policy denied).
      log: {
        event: 'auth.decision',
        decision: 'deny',
        code: 'AUTH_REVOCATION_UNKNOWN',
        serial: pki.clients.valid.serialHex,
        matches: {reason: /ocsp: unknown \((transport_error: SSRF_UPSTREAM_ERROR|timeout)/},
      },
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
      id: 'docker-socket-path',
      title: 'An authenticated client asks for the Docker socket',
      service: 'main',
      command: curl(stage, main, 'valid', '/files/%2Fvar%2Frun%2Fdocker.sock'),
      expected: 'HTTP 403 GUARD_DENIED_REFERENCE, before any route or controller runs',
      why:
        'A valid identity is not a licence to name host resources. The request guard (src/guards/request-guard.middleware.ts) runs ' +
        'before route finding, decodes the target (percent escapes, overlong UTF-8, Unicode folding) and matches it against the rule ' +
        'catalog (src/guards/rules.ts): RS-SOCKET-FILE denies a *.sock segment anywhere. A runtime socket is root on the host.',
      expect: {kind: 'http', status: 403, code: 'GUARD_DENIED_REFERENCE'},
      log: {event: 'guard.decision', decision: 'deny', code: 'GUARD_DENIED_REFERENCE', fields: {ruleId: 'RS-SOCKET-FILE', location: 'path'}},
    },
    {
      id: 'proc-traversal',
      title: 'A path traversal towards /proc',
      service: 'main',
      command: curl(stage, main, 'valid', '/static/../../proc/self/environ', ['--path-as-is']),
      expected: 'HTTP 403 GUARD_DENIED_REFERENCE',
      why:
        'curl --path-as-is sends the dot segments unresolved, as an attacker would. Conforming clients resolve them before sending, so ' +
        'the guard refuses any `..` segment left in the decoded target (rule PT-DOTDOT-TARGET, src/guards/rules.ts), whatever it encodes ' +
        'and wherever it points; the same holds for %2e%2e%2f and the other encodings.',
      expect: {kind: 'http', status: 403, code: 'GUARD_DENIED_REFERENCE'},
      log: {event: 'guard.decision', decision: 'deny', code: 'GUARD_DENIED_REFERENCE', fields: {ruleId: 'PT-DOTDOT-TARGET', location: 'path'}},
    },
    {
      id: 'ssrf-metadata',
      title: 'SSRF: make the service fetch the cloud metadata endpoint',
      service: 'main',
      command: curl(stage, main, 'valid', '/fetch', [
        ...JSON_HEADER,
        '--data',
        '{"url":"http://169.254.169.254/latest/meta-data/iam/security-credentials/"}',
      ]),
      expected: 'HTTP 403 GUARD_DENIED_REFERENCE: the request guard stops it in the body, before the route runs',
      why:
        'POST /fetch takes a URL and fetches it through the SSRF-safe outbound client. The request guard inspects JSON bodies too: a ' +
        'URL whose host is a metadata address (any link-local address, in any notation) is rule MD-METADATA-HOST. Behind the guard, ' +
        'the url-param interceptor applies the SSRF address policy to the parsed URL (src/outbound/url-policy.ts; the evidence shows it ' +
        "refusing the Docker API on the host's bridge address), and the outbound client checks every resolved address again at connect " +
        "time in its undici Agent's connect hook (src/outbound/outbound-client.ts), never through the global fetch(), which ignores agents.",
      expect: {kind: 'http', status: 403, code: 'GUARD_DENIED_REFERENCE'},
      log: {event: 'guard.decision', decision: 'deny', code: 'GUARD_DENIED_REFERENCE', fields: {ruleId: 'MD-METADATA-HOST', location: 'body:/url'}},
      evidence: [
        {
          label: "the SSRF policy behind the guard: the Docker API on the host's bridge address, as a container sees its host",
          command: curl(stage, main, 'valid', '/fetch', [...JSON_HEADER, '--data', '{"url":"https://172.17.0.1:2375/containers/json"}']),
          expect: {kind: 'http', status: 403, code: 'SSRF_ADDRESS_DENIED'},
          log: {event: 'guard.param', decision: 'deny', code: 'SSRF_ADDRESS_DENIED', fields: {route: 'POST /fetch'}},
        },
      ],
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
