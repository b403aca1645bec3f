/**
 * Dev/test PKI: a throw-away root CA, intermediate CA, server, OCSP responder, an untrusted CA
 * (same subject name as the intermediate, not in the bundle), CRLs, an `openssl ca` index and a
 * set of client certificates covering every accept/deny path of the authenticator.
 *
 * Files are written atomically (temp file + rename), the directory is 0700, keys are 0600, and
 * manifest.json is written last: a directory without a readable manifest is regenerated.
 * Keys never leave the target directory and are never committed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {Logger} from '../logging/logger';
import {DerReader, TAG} from '../x509/der';
import {
  CaHandle,
  createCrl,
  createIntermediateCa,
  createRootCa,
  CrlEntry,
  fingerprint256,
  issueCertificate,
  IssuedCert,
  loadCaHandle,
  OID,
  x509,
} from './x509-factory';

export const DEV_PKI_MANIFEST_VERSION = 1;
export const DEV_TRUST_DOMAIN = 'hardened-mtls.test';
export const DEV_ROOT_CN = 'Hardened mTLS Dev Root CA';
export const DEV_INTERMEDIATE_CN = 'Hardened mTLS Dev Intermediate CA';
export const DEV_OCSP_CN = 'Hardened mTLS Dev OCSP Responder';

export const DEV_CLIENT_NAMES = [
  'valid',
  'valid2',
  'health',
  'expired',
  'not-yet-valid',
  'revoked',
  'wrong-san',
  'no-eku',
  'server-eku-only',
  'ca-true',
  'rsa-1024',
  'rsa-2048',
  'untrusted',
] as const;
export type DevClientName = (typeof DEV_CLIENT_NAMES)[number];

/** Clients that are meant to be inside their validity period (used for the expiry check). */
const TIME_VALID_CLIENTS: readonly DevClientName[] = DEV_CLIENT_NAMES.filter(n => n !== 'expired' && n !== 'not-yet-valid');

export interface DevPkiCert {
  /** Certificate file (for `server`: leaf followed by the intermediate). */
  cert: string;
  key: string;
  serialHex: string;
  fingerprint256: string;
  notBefore: string;
  notAfter: string;
  subject: string;
}

export interface DevPkiClient extends DevPkiCert {
  /** Leaf followed by its issuing CA. */
  chain: string;
  /** SAN URI and DNS name the client carries. */
  uri: string;
  dns: string;
}

export interface DevPkiManifest {
  version: number;
  /** Absolute directory (manifest.json stores relative paths; they are resolved on read). */
  dir: string;
  generatedAt: string;
  ocspUrl?: string;
  crlUrl?: string;
  rootCa: DevPkiCert;
  intermediateCa: DevPkiCert;
  /** Root + intermediate: the TLS `ca` option. */
  caBundle: string;
  server: DevPkiCert;
  ocspResponder: DevPkiCert;
  untrustedCa: DevPkiCert;
  crls: {root: string; intermediate: string};
  /** `openssl ca` / `openssl ocsp -index` database for the intermediate (.attr next to it). */
  opensslIndex: string;
  clients: Record<DevClientName, DevPkiClient>;
}

export interface GenerateDevPkiOptions {
  dir: string;
  now?: Date;
  /** AIA OCSP URL put in the client and server certificates. */
  ocspUrl?: string;
  /** CRL distribution point URL put in the client and server certificates. */
  crlUrl?: string;
}

export interface EnsureDevPkiOptions extends GenerateDevPkiOptions {
  logger?: Logger;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
const MANIFEST = 'manifest.json';
const REGENERATE_BEFORE_EXPIRY_MS = 7 * DAY;
const RESIGN_CRL_BEFORE_MS = DAY;
const CRL_VALIDITY_MS = 30 * DAY;
const CRL_REASON_KEY_COMPROMISE = 1;

// ---------------------------------------------------------------------------------------------
// file helpers

function writeFileAtomic(file: string, data: string | Buffer, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, data, {mode, flag: 'wx'});
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, {force: true});
    throw e;
  }
}

function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, {recursive: true, mode: 0o700});
  fs.chmodSync(dir, 0o700);
}

/** Node-style subject for the index file: /O=.../CN=... */
function onelineSubject(cert: x509.X509Certificate): string {
  const parts: string[] = [];
  for (const rdn of cert.subjectName.toJSON()) {
    for (const [k, vals] of Object.entries(rdn)) for (const v of vals) parts.push(`${k}=${v}`);
  }
  return '/' + parts.join('/');
}

/** `openssl ca` index time: UTCTime text through 2049, GeneralizedTime text after. */
function indexTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const y = d.getUTCFullYear();
  const year = y < 2050 ? p(y % 100) : p(y, 4);
  return `${year}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/** Serial as `openssl ca` writes it (BN_bn2hex: upper case, whole octets). */
function indexSerial(serialHex: string): string {
  return serialHex.length % 2 === 1 ? '0' + serialHex : serialHex;
}

function buildOpensslIndex(rows: {cert: IssuedCert; revokedAt?: Date}[]): string {
  return rows
    .map(
      ({cert, revokedAt}) =>
        [
          revokedAt ? 'R' : 'V',
          indexTime(cert.notAfter),
          revokedAt ? `${indexTime(revokedAt)},keyCompromise` : '',
          indexSerial(cert.serialHex),
          'unknown',
          onelineSubject(cert.cert),
        ].join('\t') + '\n',
    )
    .join('');
}

// ---------------------------------------------------------------------------------------------
// generation

interface ClientSpec {
  name: DevClientName;
  issuer: 'intermediate' | 'untrusted';
  keyAlg?: 'P-256' | 'RSA-1024' | 'RSA-2048';
  notBefore?: Date;
  notAfter?: Date;
  eku?: string[] | null;
  isCa?: boolean;
  uri?: string;
  dns?: string;
}

function clientSpecs(): ClientSpec[] {
  return [
    {name: 'valid', issuer: 'intermediate'},
    {name: 'valid2', issuer: 'intermediate'},
    {name: 'health', issuer: 'intermediate'},
    {name: 'expired', issuer: 'intermediate', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z')},
    {name: 'not-yet-valid', issuer: 'intermediate', notBefore: new Date('2099-01-01T00:00:00Z'), notAfter: new Date('2100-01-01T00:00:00Z')},
    {name: 'revoked', issuer: 'intermediate'},
    {name: 'wrong-san', issuer: 'intermediate', uri: 'spiffe://evil.test/client/wrong-san', dns: 'wrong-san.evil.test'},
    {name: 'no-eku', issuer: 'intermediate', eku: null},
    {name: 'server-eku-only', issuer: 'intermediate', eku: [OID.serverAuth]},
    {name: 'ca-true', issuer: 'intermediate', isCa: true},
    {name: 'rsa-1024', issuer: 'intermediate', keyAlg: 'RSA-1024'},
    {name: 'rsa-2048', issuer: 'intermediate', keyAlg: 'RSA-2048'},
    {name: 'untrusted', issuer: 'untrusted'},
  ];
}

function certRef(dir: string, certFile: string, keyFile: string, c: {cert: x509.X509Certificate; serialHex: string}): DevPkiCert {
  const der = Buffer.from(new Uint8Array(c.cert.rawData));
  return {
    cert: path.join(dir, certFile),
    key: path.join(dir, keyFile),
    serialHex: c.serialHex,
    fingerprint256: fingerprint256(der),
    notBefore: c.cert.notBefore.toISOString(),
    notAfter: c.cert.notAfter.toISOString(),
    subject: c.cert.subject,
  };
}

/** Generates a complete dev PKI into `opts.dir` (overwriting what is there). */
export async function generateDevPki(opts: GenerateDevPkiOptions): Promise<DevPkiManifest> {
  const dir = path.resolve(opts.dir);
  const now = opts.now ?? new Date();
  const t = now.getTime();
  const notBefore = new Date(t - HOUR);

  // 1. All crypto in memory first, so the directory is only touched for a short burst of writes.
  const root = await createRootCa({name: 'root-ca', cn: DEV_ROOT_CN, notBefore, notAfter: new Date(t + 10 * YEAR)});
  const intermediate = await createIntermediateCa(root, {
    name: 'intermediate-ca',
    cn: DEV_INTERMEDIATE_CN,
    notBefore,
    notAfter: new Date(t + 5 * YEAR),
  });
  const untrustedCa = await createRootCa({
    name: 'untrusted-ca',
    cn: DEV_INTERMEDIATE_CN,
    subject: intermediate.cert.subjectName,
    notBefore,
    notAfter: new Date(t + 5 * YEAR),
  });
  const urls = {ocspUrl: opts.ocspUrl, crlUrl: opts.crlUrl};
  const server = await issueCertificate(intermediate, {
    name: 'server',
    cn: 'localhost',
    sans: {dns: ['localhost'], ip: ['127.0.0.1', '::1']},
    eku: [OID.serverAuth],
    notBefore,
    notAfter: new Date(t + YEAR),
    ...urls,
  });
  const ocsp = await issueCertificate(intermediate, {
    name: 'ocsp-responder',
    cn: DEV_OCSP_CN,
    eku: [OID.ocspSigning],
    ocspNoCheck: true,
    notBefore,
    notAfter: new Date(t + YEAR),
  });
  const clients = new Map<DevClientName, {spec: ClientSpec; issued: IssuedCert; issuer: CaHandle; uri: string; dns: string}>();
  for (const spec of clientSpecs()) {
    const issuer = spec.issuer === 'untrusted' ? untrustedCa : intermediate;
    const uri = spec.uri ?? `spiffe://${DEV_TRUST_DOMAIN}/client/${spec.name}`;
    const dns = spec.dns ?? `${spec.name}.client.${DEV_TRUST_DOMAIN}`;
    const issued = await issueCertificate(issuer, {
      name: spec.name,
      cn: spec.name,
      sans: {uri: [uri], dns: [dns]},
      keyAlg: spec.keyAlg ?? 'P-256',
      notBefore: spec.notBefore ?? notBefore,
      notAfter: spec.notAfter ?? new Date(t + YEAR),
      eku: spec.eku === undefined ? [OID.clientAuth] : spec.eku,
      isCa: spec.isCa,
      ...urls,
    });
    clients.set(spec.name, {spec, issued, issuer, uri, dns});
  }
  const revoked = clients.get('revoked')!.issued;
  const revokedAt = new Date(t - HOUR);
  const crlTimes = {thisUpdate: new Date(t - HOUR), nextUpdate: new Date(t + CRL_VALIDITY_MS), crlNumber: 1};
  const rootCrl = await createCrl(root, [], crlTimes);
  const intermediateCrl = await createCrl(intermediate, [{serialHex: revoked.serialHex, revokedAt, reason: CRL_REASON_KEY_COMPROMISE}], crlTimes);
  const indexRows: {cert: IssuedCert; revokedAt?: Date}[] = [{cert: server}, {cert: ocsp}];
  for (const {spec, issued} of clients.values()) {
    if (spec.issuer !== 'intermediate') continue;
    indexRows.push({cert: issued, revokedAt: spec.name === 'revoked' ? revokedAt : undefined});
  }

  // 2. Write. The old manifest goes first, the new one last.
  ensurePrivateDir(dir);
  ensurePrivateDir(path.join(dir, 'clients'));
  fs.rmSync(path.join(dir, MANIFEST), {force: true});
  const pub = (f: string, data: string): void => writeFileAtomic(path.join(dir, f), data, 0o644);
  const priv = (f: string, data: string): void => writeFileAtomic(path.join(dir, f), data, 0o600);
  priv('root-ca.key', root.keyPem);
  pub('root-ca.crt', root.certPem);
  priv('intermediate-ca.key', intermediate.keyPem);
  pub('intermediate-ca.crt', intermediate.certPem);
  pub('ca-bundle.crt', root.certPem + intermediate.certPem);
  priv('server.key', server.keyPem);
  pub('server.crt', server.certPem + intermediate.certPem);
  priv('ocsp-responder.key', ocsp.keyPem);
  pub('ocsp-responder.crt', ocsp.certPem);
  priv('untrusted-ca.key', untrustedCa.keyPem);
  pub('untrusted-ca.crt', untrustedCa.certPem);
  pub('root-ca.crl', rootCrl.pem);
  pub('intermediate-ca.crl', intermediateCrl.pem);
  pub('openssl-index.txt', buildOpensslIndex(indexRows));
  pub('openssl-index.txt.attr', 'unique_subject = no\n');

  const clientRefs = {} as Record<DevClientName, DevPkiClient>;
  for (const [name, {issued, issuer, uri, dns}] of clients) {
    priv(`clients/${name}.key`, issued.keyPem);
    pub(`clients/${name}.crt`, issued.certPem);
    pub(`clients/${name}.chain.crt`, issued.certPem + issuer.certPem);
    clientRefs[name] = {
      ...certRef(dir, `clients/${name}.crt`, `clients/${name}.key`, issued),
      chain: path.join(dir, `clients/${name}.chain.crt`),
      uri,
      dns,
    };
  }

  const manifest: DevPkiManifest = {
    version: DEV_PKI_MANIFEST_VERSION,
    dir,
    generatedAt: now.toISOString(),
    ...(opts.ocspUrl !== undefined ? {ocspUrl: opts.ocspUrl} : {}),
    ...(opts.crlUrl !== undefined ? {crlUrl: opts.crlUrl} : {}),
    rootCa: certRef(dir, 'root-ca.crt', 'root-ca.key', root),
    intermediateCa: certRef(dir, 'intermediate-ca.crt', 'intermediate-ca.key', intermediate),
    caBundle: path.join(dir, 'ca-bundle.crt'),
    server: certRef(dir, 'server.crt', 'server.key', server),
    ocspResponder: certRef(dir, 'ocsp-responder.crt', 'ocsp-responder.key', ocsp),
    untrustedCa: certRef(dir, 'untrusted-ca.crt', 'untrusted-ca.key', untrustedCa),
    crls: {root: path.join(dir, 'root-ca.crl'), intermediate: path.join(dir, 'intermediate-ca.crl')},
    opensslIndex: path.join(dir, 'openssl-index.txt'),
    clients: clientRefs,
  };
  pub(MANIFEST, JSON.stringify(relativize(manifest), null, 2) + '\n');
  return manifest;
}

// ---------------------------------------------------------------------------------------------
// manifest (de)serialisation: paths are stored relative to the directory

function mapPaths(m: DevPkiManifest, f: (p: string) => string): DevPkiManifest {
  const ref = <T extends DevPkiCert>(c: T): T => ({...c, cert: f(c.cert), key: f(c.key)});
  const clients = {} as Record<DevClientName, DevPkiClient>;
  for (const name of DEV_CLIENT_NAMES) {
    const c = m.clients[name];
    clients[name] = {...ref(c), chain: f(c.chain)};
  }
  return {
    ...m,
    rootCa: ref(m.rootCa),
    intermediateCa: ref(m.intermediateCa),
    caBundle: f(m.caBundle),
    server: ref(m.server),
    ocspResponder: ref(m.ocspResponder),
    untrustedCa: ref(m.untrustedCa),
    crls: {root: f(m.crls.root), intermediate: f(m.crls.intermediate)},
    opensslIndex: f(m.opensslIndex),
    clients,
  };
}

function relativize(m: DevPkiManifest): DevPkiManifest {
  return {...mapPaths(m, p => path.relative(m.dir, p)), dir: '.'};
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkCertRef(v: unknown, what: string, extra: string[] = []): void {
  if (!isObj(v)) throw new Error(`manifest: ${what} missing`);
  for (const k of ['cert', 'key', 'serialHex', 'fingerprint256', 'notBefore', 'notAfter', 'subject', ...extra]) {
    if (typeof v[k] !== 'string' || v[k] === '') throw new Error(`manifest: ${what}.${k} missing`);
  }
}

function relPath(p: unknown, what: string): string {
  if (typeof p !== 'string' || p === '' || path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
    throw new Error(`manifest: ${what} is not a relative path inside the directory`);
  }
  return p;
}

/** Reads and validates `dir/manifest.json`; paths come back absolute. Throws when missing or invalid. */
export function readDevPkiManifest(dir: string): DevPkiManifest {
  const abs = path.resolve(dir);
  const raw: unknown = JSON.parse(fs.readFileSync(path.join(abs, MANIFEST), 'utf8'));
  if (!isObj(raw) || raw.version !== DEV_PKI_MANIFEST_VERSION) throw new Error('manifest: unsupported version');
  for (const k of ['rootCa', 'intermediateCa', 'server', 'ocspResponder', 'untrustedCa']) checkCertRef(raw[k], k);
  if (!isObj(raw.crls) || !isObj(raw.clients)) throw new Error('manifest: crls/clients missing');
  for (const name of DEV_CLIENT_NAMES) checkCertRef(raw.clients[name], `clients.${name}`, ['chain', 'uri', 'dns']);
  const m = raw as unknown as DevPkiManifest;
  return {...mapPaths(m, p => path.join(abs, relPath(p, 'path'))), dir: abs};
}

// ---------------------------------------------------------------------------------------------
// ensure: reuse when sound, regenerate otherwise, refresh CRLs near nextUpdate

/** Why an existing directory must be regenerated, or undefined when it can be reused. */
function staleReason(m: DevPkiManifest, opts: EnsureDevPkiOptions, now: number): string | undefined {
  if ((opts.ocspUrl ?? undefined) !== m.ocspUrl || (opts.crlUrl ?? undefined) !== m.crlUrl) return 'ocsp/crl url changed';
  const files = [m.caBundle, m.crls.root, m.crls.intermediate, m.opensslIndex];
  for (const c of [m.rootCa, m.intermediateCa, m.server, m.ocspResponder, m.untrustedCa]) files.push(c.cert, c.key);
  for (const name of DEV_CLIENT_NAMES) files.push(m.clients[name].cert, m.clients[name].key, m.clients[name].chain);
  for (const f of files) if (!fs.existsSync(f)) return `missing ${path.relative(m.dir, f)}`;
  const mustBeValid: [string, DevPkiCert][] = [
    ['root-ca', m.rootCa],
    ['intermediate-ca', m.intermediateCa],
    ['server', m.server],
    ['ocsp-responder', m.ocspResponder],
    ...TIME_VALID_CLIENTS.map(n => [n, m.clients[n]] as [string, DevPkiCert]),
  ];
  for (const [name, ref] of mustBeValid) {
    // The certificate on disk is authoritative (first PEM block = the leaf).
    const cert = new crypto.X509Certificate(fs.readFileSync(ref.cert));
    if (cert.fingerprint256 !== ref.fingerprint256) return `${name} certificate does not match the manifest`;
    if (Date.parse(cert.validTo) - now < REGENERATE_BEFORE_EXPIRY_MS) return `${name} expires within 7 days`;
    if (Date.parse(cert.validFrom) > now) return `${name} is not yet valid`;
  }
  return undefined;
}

function crlNumberOf(crl: x509.X509Crl): bigint {
  const ext = crl.getExtension('2.5.29.20');
  if (!ext) return 0n;
  const buf = Buffer.from(new Uint8Array(ext.value));
  try {
    const r = new DerReader(buf, 'CRL_INVALID');
    r.expect(0, buf.length, TAG.INTEGER, 'cRLNumber');
    const hex = buf.toString('hex', r.start, r.end);
    return hex === '' ? 0n : BigInt('0x' + hex);
  } catch {
    return 0n;
  }
}

/** Re-signs a CRL with fresh thisUpdate/nextUpdate, the same entries and crlNumber + 1. */
async function resignCrl(crlFile: string, ca: CaHandle, now: number): Promise<void> {
  const old = new x509.X509Crl(fs.readFileSync(crlFile, 'utf8'));
  const entries: CrlEntry[] = old.entries.map(e => ({
    serialHex: e.serialNumber,
    revokedAt: e.revocationDate,
    reason: e.reason,
  }));
  const crl = await createCrl(ca, entries, {
    thisUpdate: new Date(now - HOUR),
    nextUpdate: new Date(now + CRL_VALIDITY_MS),
    crlNumber: crlNumberOf(old) + 1n,
  });
  writeFileAtomic(crlFile, crl.pem, 0o644);
}

async function refreshCrls(m: DevPkiManifest, now: number, logger?: Logger): Promise<boolean> {
  let refreshed = false;
  const pairs: [string, DevPkiCert][] = [
    [m.crls.root, m.rootCa],
    [m.crls.intermediate, m.intermediateCa],
  ];
  for (const [file, caRef] of pairs) {
    const crl = new x509.X509Crl(fs.readFileSync(file, 'utf8'));
    const next = crl.nextUpdate?.getTime() ?? 0;
    if (next - now > RESIGN_CRL_BEFORE_MS && crl.thisUpdate.getTime() <= now) continue;
    const ca = await loadCaHandle(path.basename(caRef.cert), fs.readFileSync(caRef.cert, 'utf8'), fs.readFileSync(caRef.key, 'utf8'));
    await resignCrl(file, ca, now);
    refreshed = true;
    logger?.info({event: 'pki.crl_resigned', file: path.basename(file)}, 'dev PKI CRL re-signed');
  }
  return refreshed;
}

/**
 * Reuses a sound dev PKI in `opts.dir`, regenerates it when manifest.json is missing/unreadable,
 * a file is missing, or a CA/server/valid-client certificate expires within 7 days; re-signs the
 * CRLs (same entries) when they are within 1 day of nextUpdate.
 */
export async function ensureDevPki(opts: EnsureDevPkiOptions): Promise<{manifest: DevPkiManifest; generated: boolean}> {
  const dir = path.resolve(opts.dir);
  const now = (opts.now ?? new Date()).getTime();
  let reason: string | undefined;
  let manifest: DevPkiManifest | undefined;
  try {
    manifest = readDevPkiManifest(dir);
    reason = staleReason(manifest, opts, now);
  } catch (e) {
    reason = `manifest unreadable: ${(e as Error).message}`;
  }
  if (manifest && reason === undefined) {
    try {
      fs.chmodSync(dir, 0o700);
      await refreshCrls(manifest, now, opts.logger);
      opts.logger?.info({event: 'pki.reused', dir}, 'dev PKI reused');
      return {manifest, generated: false};
    } catch (e) {
      reason = `CRL refresh failed: ${(e as Error).message}`;
    }
  }
  opts.logger?.info({event: 'pki.generate', dir, reason}, 'generating dev PKI');
  const fresh = await generateDevPki({...opts, dir, now: opts.now});
  return {manifest: fresh, generated: true};
}

/** CaHandle for the dev root or intermediate CA (to issue custom test certificates from it). */
export async function loadDevCa(manifest: DevPkiManifest, which: 'root' | 'intermediate' | 'untrusted'): Promise<CaHandle> {
  const ref = which === 'root' ? manifest.rootCa : which === 'intermediate' ? manifest.intermediateCa : manifest.untrustedCa;
  return loadCaHandle(`${which}-ca`, fs.readFileSync(ref.cert, 'utf8'), fs.readFileSync(ref.key, 'utf8'));
}
