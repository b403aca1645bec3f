/**
 * Test-time PKI made with the openssl CLI (an implementation independent of the code under test):
 * `openssl req -x509` roots, `openssl ca` for everything else (explicit start/end dates, serials,
 * an index.txt that `openssl ocsp -index` reads, `openssl ca -revoke`).
 *
 * Keys live only in a temp directory removed by cleanup(). A missing openssl binary makes the
 * calling test fail (never skip).
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {opensslOk} from '../../../fixtures/openssl';

export type KeySpec = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'ec-secp256k1' | 'rsa-1024' | 'rsa-2048' | 'ed25519' | 'ed448';

function keyArgs(spec: KeySpec): string[] {
  switch (spec) {
    case 'ec-p256':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    case 'ec-p384':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
    case 'ec-p521':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'];
    case 'ec-secp256k1':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'];
    case 'rsa-1024':
      return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'];
    case 'rsa-2048':
      return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
    case 'ed25519':
      return ['-algorithm', 'ED25519'];
    case 'ed448':
      return ['-algorithm', 'ED448'];
  }
}

export interface IssuedCert {
  readonly name: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly pem: string;
  readonly der: Buffer;
  readonly x509: crypto.X509Certificate;
}

/** openssl date format YYYYMMDDHHMMSSZ */
export function opensslDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export interface IssueOptions {
  /** openssl -subj form, default "/CN=<name>" */
  subject?: string;
  key?: KeySpec;
  /** extendedKeyUsage value, null = omit the extension. Default "clientAuth". */
  eku?: string | null;
  /** keyUsage value, null = omit. Default "critical,digitalSignature". */
  keyUsage?: string | null;
  /** basicConstraints value, null = omit. Default "critical,CA:FALSE". */
  basicConstraints?: string | null;
  /** subjectAltName value (openssl syntax), null = omit. Default "URI:spiffe://test.example/client/<name>". */
  san?: string | null;
  /** Raw extra lines for the extension section (e.g. "1.2.3.4 = critical,ASN1:NULL"). */
  extraExtensions?: readonly string[];
  /** Add authorityInfoAccess OCSP;URI:<url>. */
  ocspUrl?: string;
  /** Add crlDistributionPoints URI:<url>. */
  crlUrl?: string;
  startDate?: Date;
  endDate?: Date;
  /** Serial in hex (openssl serial file), e.g. "9F01". */
  serialHex?: string;
  /** Signature digest (default sha256). */
  md?: string;
}

let sequence = 0;

export class OpensslCa {
  private constructor(
    readonly dir: string,
    readonly cert: IssuedCert,
    readonly parent: OpensslCa | undefined,
  ) {}

  get indexFile(): string {
    return path.join(this.dir, 'index.txt');
  }

  /** A self-signed root CA. */
  static async createRoot(
    workdir: string,
    name: string,
    opts: {key?: KeySpec; days?: number; subject?: string; pathlen?: number; extraExtensions?: readonly string[]; stringMask?: string} = {},
  ): Promise<OpensslCa> {
    const dir = await OpensslCa.prepareDir(workdir, name);
    const keyPath = path.join(dir, 'ca.key');
    const certPath = path.join(dir, 'ca.pem');
    opensslOk(['genpkey', ...keyArgs(opts.key ?? 'ec-p256'), '-out', keyPath]);
    const ext = path.join(dir, 'root-ext.cnf');
    await fs.writeFile(
      ext,
      [
        '[req]',
        'distinguished_name = dn',
        ...(opts.stringMask ? [`string_mask = ${opts.stringMask}`] : []),
        '[dn]',
        '[v3_root]',
        `basicConstraints = critical,CA:TRUE${opts.pathlen !== undefined ? `,pathlen:${opts.pathlen}` : ''}`,
        'keyUsage = critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier = hash',
        ...(opts.extraExtensions ?? []),
        '',
      ].join('\n'),
    );
    opensslOk([
      'req',
      '-x509',
      '-new',
      '-key',
      keyPath,
      '-subj',
      opts.subject ?? `/CN=${name}`,
      '-days',
      String(opts.days ?? 730),
      '-sha256',
      '-config',
      ext,
      '-extensions',
      'v3_root',
      '-out',
      certPath,
    ]);
    return new OpensslCa(dir, await loadIssued(name, certPath, keyPath), undefined);
  }

  private static async prepareDir(workdir: string, name: string): Promise<string> {
    const dir = path.join(workdir, `${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-${++sequence}`);
    await fs.mkdir(path.join(dir, 'newcerts'), {recursive: true});
    await fs.writeFile(path.join(dir, 'index.txt'), '');
    await fs.writeFile(path.join(dir, 'index.txt.attr'), 'unique_subject = no\n');
    await fs.writeFile(path.join(dir, 'serial'), crypto.randomBytes(8).toString('hex').replace(/^./, '1').toUpperCase() + '\n');
    await fs.writeFile(path.join(dir, 'crlnumber'), '01\n');
    return dir;
  }

  private async writeConfig(extSection: string[]): Promise<string> {
    const cnf = path.join(this.dir, `ca-${++sequence}.cnf`);
    await fs.writeFile(
      cnf,
      [
        '[ca]',
        'default_ca = CA_default',
        '[CA_default]',
        `dir = ${this.dir}`,
        'database = $dir/index.txt',
        'new_certs_dir = $dir/newcerts',
        'serial = $dir/serial',
        'crlnumber = $dir/crlnumber',
        `certificate = ${this.cert.certPath}`,
        `private_key = ${this.cert.keyPath}`,
        'default_md = sha256',
        'default_days = 30',
        'default_crl_days = 7',
        'policy = policy_any',
        'unique_subject = no',
        'copy_extensions = none',
        'email_in_dn = no',
        '[policy_any]',
        'commonName = optional',
        '[req]',
        'distinguished_name = dn',
        '[dn]',
        '[ext]',
        ...extSection,
        '',
      ].join('\n'),
    );
    return cnf;
  }

  /** Issue a certificate from this CA through `openssl ca`. */
  async issue(name: string, o: IssueOptions = {}): Promise<IssuedCert> {
    const stem = path.join(this.dir, `${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-${++sequence}`);
    const keyPath = `${stem}.key`;
    const csrPath = `${stem}.csr`;
    const certPath = `${stem}.pem`;
    opensslOk(['genpkey', ...keyArgs(o.key ?? 'ec-p256'), '-out', keyPath]);
    opensslOk(['req', '-new', '-key', keyPath, '-subj', '/CN=csr', '-out', csrPath, '-config', await this.writeConfig([])]);
    const ext: string[] = [];
    const add = (k: string, v: string | null | undefined, def: string | null) => {
      const val = v === undefined ? def : v;
      if (val !== null) ext.push(`${k} = ${val}`);
    };
    add('basicConstraints', o.basicConstraints, 'critical,CA:FALSE');
    add('keyUsage', o.keyUsage, 'critical,digitalSignature');
    add('extendedKeyUsage', o.eku, 'clientAuth');
    add('subjectAltName', o.san, `URI:spiffe://test.example/client/${name}`);
    ext.push('subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid');
    if (o.ocspUrl) ext.push(`authorityInfoAccess = OCSP;URI:${o.ocspUrl}`);
    if (o.crlUrl) ext.push(`crlDistributionPoints = URI:${o.crlUrl}`);
    ext.push(...(o.extraExtensions ?? []));
    if (o.serialHex) await fs.writeFile(path.join(this.dir, 'serial'), o.serialHex + '\n');
    const start = o.startDate ?? new Date(Date.now() - 60 * 60 * 1000);
    const end = o.endDate ?? new Date(Date.now() + 10 * 24 * 60 * 60 * 1000);
    opensslOk([
      'ca',
      '-batch',
      '-notext',
      '-preserveDN',
      '-utf8',
      '-config',
      await this.writeConfig(ext),
      '-extensions',
      'ext',
      '-subj',
      o.subject ?? `/CN=${name}`,
      '-md',
      o.md ?? 'sha256',
      '-startdate',
      opensslDate(start),
      '-enddate',
      opensslDate(end),
      '-in',
      csrPath,
      '-out',
      certPath,
    ]);
    return loadIssued(name, certPath, keyPath);
  }

  /**
   * The same CA key under another encoding of its name (e.g. UTF8String in another case where this
   * CA's subject is a PrintableString): a self-signed certificate sharing this CA's key, directory
   * and index, so what it issues or lists in a CRL carries that other issuer name.
   */
  async twin(subject: string, o: {stringMask?: string} = {}): Promise<OpensslCa> {
    const certPath = path.join(this.dir, `twin-${++sequence}.pem`);
    const ext = path.join(this.dir, `twin-${sequence}.cnf`);
    await fs.writeFile(
      ext,
      [
        '[req]',
        'distinguished_name = dn',
        `string_mask = ${o.stringMask ?? 'utf8only'}`,
        '[dn]',
        '[v3_root]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    opensslOk([
      'req',
      '-x509',
      '-new',
      '-utf8',
      '-key',
      this.cert.keyPath,
      '-subj',
      subject,
      '-days',
      '30',
      '-sha256',
      '-config',
      ext,
      '-extensions',
      'v3_root',
      '-out',
      certPath,
    ]);
    return new OpensslCa(this.dir, await loadIssued(`${this.cert.name}-twin`, certPath, this.cert.keyPath), this.parent);
  }

  /** An intermediate CA issued by this CA (openssl ca), with its own directory and index. */
  async createIntermediate(
    name: string,
    o: {
      key?: KeySpec;
      pathlen?: number;
      eku?: string | null;
      keyUsage?: string | null;
      basicConstraints?: string | null;
      startDate?: Date;
      endDate?: Date;
      md?: string;
      subject?: string;
      extraExtensions?: readonly string[];
      san?: string | null;
    } = {},
  ): Promise<OpensslCa> {
    const issued = await this.issue(name, {
      subject: o.subject,
      extraExtensions: o.extraExtensions,
      key: o.key,
      md: o.md,
      basicConstraints:
        o.basicConstraints !== undefined ? o.basicConstraints : `critical,CA:TRUE${o.pathlen !== undefined ? `,pathlen:${o.pathlen}` : ''}`,
      keyUsage: o.keyUsage !== undefined ? o.keyUsage : 'critical,keyCertSign,cRLSign',
      eku: o.eku ?? null,
      san: o.san ?? null,
      startDate: o.startDate,
      endDate: o.endDate ?? new Date(Date.now() + 365 * 24 * 60 * 60 * 1000),
    });
    const dir = await OpensslCa.prepareDir(path.dirname(this.dir), name);
    return new OpensslCa(dir, issued, this);
  }

  /** A delegated OCSP responder certificate (id-kp-OCSPSigning) issued by this CA. */
  issueOcspSigner(name: string, o: IssueOptions = {}): Promise<IssuedCert> {
    return this.issue(name, {eku: 'OCSPSigning', keyUsage: 'critical,digitalSignature', san: null, ...o});
  }

  async revoke(cert: IssuedCert, reason = 'keyCompromise'): Promise<void> {
    opensslOk(['ca', '-batch', '-config', await this.writeConfig([]), '-revoke', cert.certPath, '-crl_reason', reason]);
  }

  /**
   * A CRL of this CA's revocations (`openssl ca -gencrl`), valid for `hours` (default 24), with
   * optional CRL extension lines (e.g. "issuingDistributionPoint = critical,@idp" and an [idp] section). Returns its path.
   */
  async gencrl(o: {hours?: number; crlExtensions?: readonly string[]} = {}): Promise<string> {
    const out = path.join(this.dir, `crl-${++sequence}.pem`);
    const exts = o.crlExtensions ?? [];
    opensslOk([
      'ca',
      '-batch',
      '-gencrl',
      '-config',
      await this.writeConfig([...exts]),
      ...(exts.length ? ['-crlexts', 'ext'] : []),
      '-crlhours',
      String(o.hours ?? 24),
      '-out',
      out,
    ]);
    return out;
  }

  /** PEM bundle of this CA and its parents (leaf-most first). */
  chainPem(): string {
    const out: string[] = [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- walking up the parent chain from this CA
    for (let c: OpensslCa | undefined = this; c; c = c.parent) out.push(c.cert.pem);
    return out.join('');
  }
}

export async function loadIssued(name: string, certPath: string, keyPath: string): Promise<IssuedCert> {
  const pem = await fs.readFile(certPath, 'utf8');
  const x509 = new crypto.X509Certificate(pem);
  return {name, certPath, keyPath, pem: x509.toString(), der: x509.raw, x509};
}
