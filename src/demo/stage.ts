/**
 * The demo's stage: a fresh dev PKI in a private temp dir, one extra client revoked only in the
 * OCSP responder's index, a loopback `openssl ocsp` responder, and two service instances
 * (`node dist/src/index.js`):
 *   main      MTLS_REVOCATION=crl,ocsp  (CRL index and OCSP, fail-closed)
 *   ocspOnly  MTLS_REVOCATION=ocsp      (OCSP is the only source, fail-closed)
 * Everything listens on 127.0.0.1 and is torn down by teardown() (temp dir included: it holds keys).
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {DEV_TRUST_DOMAIN, DevPkiManifest, generateDevPki, loadDevCa} from '../pki/dev-pki';
import {DEV_ORGANIZATION, issueCertificate} from '../pki/x509-factory';
import {writeAuthzDeployment} from '../escape/local-target';
import {LoopbackOcspResponder} from './ocsp-responder';
import {runCommand, ServiceProcess} from './processes';

export const DEMO_ALLOWED_SUBJECTS = `uri:spiffe://${DEV_TRUST_DOMAIN}/client/*`;

export interface ExtraClient {
  name: string;
  cert: string;
  key: string;
  serialHex: string;
  uri: string;
}

export interface Stage {
  dir: string;
  pki: DevPkiManifest;
  /** Trusted, valid, allowed, not on the CRL, revoked in the OCSP index. */
  ocspRevoked: ExtraClient;
  /** The operator's SANs on a certificate from a second CA that TLS_CA_FILE also trusts (authz scenario). */
  secondCaOperator: {cert: string; key: string};
  responder: LoopbackOcspResponder;
  main: ServiceProcess;
  ocspOnly: ServiceProcess;
  /** What was set for each service (for display). */
  envShown: {main: Record<string, string>; ocspOnly: Record<string, string>};
  teardown(): Promise<void>;
  /** Synchronous last-resort cleanup (interrupt). */
  kill(): void;
}

export type StageProgress = (what: string, detail: string) => void;

/** `openssl ca` index time: UTCTime through 2049, GeneralizedTime after. */
function indexTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const y = d.getUTCFullYear();
  return `${y < 2050 ? p(y % 100) : p(y, 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

async function requireTool(argv: string[], name: string): Promise<void> {
  const r = await runCommand(argv, {timeoutMs: 10_000});
  if (r.spawnError || r.exitCode !== 0) {
    throw new Error(
      `${name} is required by the demo and could not be run (${r.spawnError ?? `exit ${r.exitCode}`}); install it (Debian: apt-get install ${name})`,
    );
  }
}

function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {NODE_ENV: 'development', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', TLS_WATCH: 'false', ...extra};
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  return env;
}

export async function buildStage(progress: StageProgress = () => undefined): Promise<Stage> {
  await requireTool(['curl', '--version'], 'curl');
  await requireTool(['openssl', 'version'], 'openssl');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmtls-demo-'));
  fs.chmodSync(dir, 0o700);
  const pkiDir = path.join(dir, 'pki');
  const services: ServiceProcess[] = [];
  let responder: LoopbackOcspResponder | undefined;
  const cleanup = async () => {
    await Promise.all(services.map(s => s.stop()));
    await responder?.stop();
    fs.rmSync(dir, {recursive: true, force: true});
  };
  try {
    // 1. The responder's address first, so it can go into the certificates' AIA extension.
    responder = await LoopbackOcspResponder.listen(
      {
        index: path.join(pkiDir, 'openssl-index.txt'),
        issuerCert: path.join(pkiDir, 'intermediate-ca.crt'),
        signerCert: path.join(pkiDir, 'ocsp-responder.crt'),
        signerKey: path.join(pkiDir, 'ocsp-responder.key'),
      },
      path.join(dir, 'ocsp-work'),
    );

    // 2. A fresh dev PKI.
    const pki = await generateDevPki({dir: pkiDir, ocspUrl: responder.url});
    progress(
      'dev PKI',
      `${pkiDir} (generateDevPki: root and intermediate CA, server, OCSP responder, ${Object.keys(pki.clients).length} clients, CRLs, openssl index)`,
    );

    // 3. One client revoked after the CRL was published: only the OCSP index knows.
    const ca = await loadDevCa(pki, 'intermediate');
    const name = 'ocsp-revoked';
    const uri = `spiffe://${DEV_TRUST_DOMAIN}/client/${name}`;
    const issued = await issueCertificate(ca, {
      name,
      cn: name,
      sans: {uri: [uri], dns: [`${name}.client.${DEV_TRUST_DOMAIN}`]},
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 30 * 86400_000),
      ocspUrl: responder.url,
    });
    const cert = path.join(pkiDir, 'clients', `${name}.crt`);
    const key = path.join(pkiDir, 'clients', `${name}.key`);
    fs.writeFileSync(cert, issued.certPem, {mode: 0o644});
    fs.writeFileSync(key, issued.keyPem, {mode: 0o600});
    const serialIdx = issued.serialHex.length % 2 === 1 ? `0${issued.serialHex}` : issued.serialHex;
    fs.appendFileSync(
      pki.opensslIndex,
      ['R', indexTime(issued.notAfter), `${indexTime(new Date())},keyCompromise`, serialIdx, 'unknown', `/O=${DEV_ORGANIZATION}/CN=${name}`].join(
        '\t',
      ) + '\n',
    );
    const ocspRevoked: ExtraClient = {name, cert, key, serialHex: issued.serialHex, uri};
    progress('extra client', `${cert}: trusted and allowed, not on the CRL, marked revoked (R) in ${pki.opensslIndex}`);
    progress(
      'OCSP responder',
      `${responder.url} (127.0.0.1 only); each request is answered by\n${responder.commandFor('REQUEST.der', 'RESPONSE.der').join(' ')}`,
    );

    // 3b. Authorization: a second CA in the client trust bundle, the operator's SANs on a
    // certificate from it, and a role policy binding the operator role to the dev intermediate CA.
    const authzDir = path.join(dir, 'authz');
    fs.mkdirSync(authzDir, {mode: 0o700});
    const authz = await writeAuthzDeployment(authzDir, pki, authzDir);
    const secondCaOperator = {cert: path.join(authzDir, 'second-ca-operator.crt'), key: path.join(authzDir, 'second-ca-operator.key')};
    progress(
      'authorization',
      `${authz.policy}: role operator = ${pki.clients.valid.uri}, issued by the dev intermediate CA only; a second CA in ${authz.bundle}`,
    );

    // 4. The services.
    const common = {
      TLS_CERT_FILE: pki.server.cert,
      TLS_KEY_FILE: pki.server.key,
      TLS_CA_FILE: authz.bundle,
      TLS_CRL_FILES: `${pki.crls.root},${pki.crls.intermediate},${authz.crl}`,
      MTLS_POLICY_FILE: authz.policy,
      MTLS_ALLOWED_SUBJECTS: DEMO_ALLOWED_SUBJECTS,
      MTLS_OCSP_URL: responder.url,
      MTLS_REVOCATION_FAIL: 'closed',
      // OCSP goes through the SSRF-safe revocation transport, which denies loopback like any other
      // internal address: the responder's address is the one explicit operator exception.
      OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
      // The demo runs wherever `npm run demo` runs (often as root on a laptop or CI): report, don't refuse.
      POSTURE_MODE: 'warn',
    };
    const mainShown = {...common, MTLS_REVOCATION: 'crl,ocsp'};
    const ocspShown = {...common, MTLS_REVOCATION: 'ocsp'};
    const [main, ocspOnly] = await Promise.all([
      ServiceProcess.start('main', serviceEnv(mainShown)).then(s => (services.push(s), s)),
      ServiceProcess.start('ocsp-only', serviceEnv(ocspShown)).then(s => (services.push(s), s)),
    ]);
    progress('service', `${main.url}  (MTLS_REVOCATION=crl,ocsp, MTLS_REVOCATION_FAIL=closed, MTLS_OCSP_URL=${responder.url})`);
    progress('service', `${ocspOnly.url}  (MTLS_REVOCATION=ocsp: OCSP is the only revocation source, fail-closed)`);
    progress(
      'note',
      'OUTBOUND_ALLOWED_CIDRS=127.0.0.1/32: OCSP lookups go through the SSRF-safe revocation transport, which denies\n' +
        "loopback like any internal address; the responder's address is the one explicit operator exception (it opens\n" +
        "127.0.0.1 to every outbound use, so in production name only the responder's own address; metadata is never re-opened)",
    );

    const r = responder;
    return {
      dir,
      pki,
      ocspRevoked,
      secondCaOperator,
      responder: r,
      main,
      ocspOnly,
      envShown: {main: mainShown, ocspOnly: ocspShown},
      teardown: cleanup,
      kill() {
        for (const s of services) s.kill();
        fs.rmSync(dir, {recursive: true, force: true});
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
