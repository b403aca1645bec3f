/**
 * Parse a client certificate (DER) ONCE into the structure every check reads.
 *
 * Everything security-relevant is decoded from the DER with asn1js by this module (SANs, names,
 * extensions), never from Node's `subjectaltname`/`subject` strings (CVE-2021-44532: those are
 * display strings, and splitting them lets an attacker smuggle a second name into one SAN).
 * pkijs' lenient extension parsing (which silently substitutes defaults on error) is not used for
 * any decision. Node's X509Certificate supplies the fingerprint and public-key details.
 *
 * Any parse failure throws AppError AUTH_CERT_MALFORMED.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import crypto from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import ipaddr from 'ipaddr.js';
import {AppError} from '../errors';
import {namesMatch} from './name';
import {normalizeSerial} from './serial';
import {ConstrainedNames, GENERAL_NAME_FORMS, NameConstraints, NameForm, parseNameConstraints} from './name-constraints';

/** The names an identity rule matches (src/identity/identity-rules.ts CertificateIdentity has this shape). */
export interface CertificateNames {
  readonly commonNames: readonly string[];
  readonly dns: readonly string[];
  readonly uris: readonly string[];
  readonly emails: readonly string[];
  readonly ips: readonly string[];
}

/** Certificates larger than this are refused before any parsing. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export const OID = {
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  nameConstraints: '2.5.29.30',
  adOcsp: '1.3.6.1.5.5.7.48.1',
  kpServerAuth: '1.3.6.1.5.5.7.3.1',
  kpClientAuth: '1.3.6.1.5.5.7.3.2',
  kpOcspSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/**
 * Extensions this service understands. A critical extension outside this set makes path
 * validation fail (RFC 5280 §6.1.4 (o) / §6.1.5 (f)); chain.ts enforces it.
 */
export const RECOGNISED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.subjectAltName,
  OID.keyUsage,
  OID.basicConstraints,
  OID.extKeyUsage,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.30', // nameConstraints (src/x509/name-constraints.ts)
  '2.5.29.32', // certificatePolicies (processed by pkijs)
  '2.5.29.33', // policyMappings
  '2.5.29.36', // policyConstraints
  '2.5.29.54', // inhibitAnyPolicy
]);

export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly uris: readonly string[];
  readonly emails: readonly string[];
  /** Canonical text (ipaddr.js toNormalizedString for IPv6, dotted quad for IPv4). */
  readonly ips: readonly string[];
  /** Count of other GeneralName forms (otherName, directoryName, ...), never matched. */
  readonly otherCount: number;
  /** DER Names of directoryName entries (name constraints only, never matched as identity). */
  readonly directoryNames: readonly Buffer[];
  /** Raw iPAddress octets, in the order of `ips`. */
  readonly ipBytes: readonly Buffer[];
  /** Forms other than rfc822Name, dNSName, URI, iPAddress and directoryName present. */
  readonly otherForms: readonly NameForm[];
}

export type PublicKeyAlgorithm = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'dh' | 'x25519' | 'x448' | 'unknown';

export interface PublicKeyDescription {
  readonly algorithm: PublicKeyAlgorithm;
  /** RSA modulus length in bits. */
  readonly bits?: number;
  /** EC curve as Node names it ('prime256v1', 'secp384r1', ...). */
  readonly curve?: string;
}

export interface BasicConstraintsInfo {
  readonly ca: boolean;
  readonly pathLength?: number;
}

export interface ParsedClientCertificate {
  readonly der: Buffer;
  /** Node's view (fingerprint, public key; what the CRL index takes). */
  readonly x509: crypto.X509Certificate;
  /** pkijs view (chain building and OCSP CertID). */
  readonly pkijs: pkijs.Certificate;
  /** RFC 4514 string (most-specific RDN first); control characters hex-escaped. */
  readonly subject: string;
  readonly issuer: string;
  /** Raw DER of the subject / issuer Name (for byte-exact comparison). */
  readonly subjectDer: Buffer;
  readonly issuerDer: Buffer;
  /** Upper-case hex of the serial without leading zeros ("9F01"). */
  readonly serialKey: string;
  /** Node format: "AB:CD:...". */
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Key purpose OIDs, or null when the extension is absent. */
  readonly extendedKeyUsage: readonly string[] | null;
  /** null when the extension is absent. */
  readonly basicConstraints: BasicConstraintsInfo | null;
  /** Asserted keyUsage bits, or null when the extension is absent. */
  readonly keyUsage: readonly KeyUsageName[] | null;
  readonly publicKey: PublicKeyDescription;
  /** The SubjectPublicKeyInfo DER (signature verification). */
  readonly spkiDer: Buffer;
  /** Contents of the subjectPublicKey BIT STRING (OCSP issuerKeyHash, responderID byKey). */
  readonly publicKeyBits: Buffer;
  readonly signatureAlgorithm: string;
  readonly sans: SubjectAltNames;
  /** Every CN attribute of the subject, in order, undecorated (may contain control characters). */
  readonly commonNames: readonly string[];
  /** The names matchIdentity() (src/identity/identity-rules.ts) consumes. */
  readonly identity: CertificateNames;
  /** http(s)/ldap URIs from CRL distribution points (fullName form only). */
  readonly crlDistributionPoints: readonly string[];
  /** URIs of id-ad-ocsp access descriptions in authorityInfoAccess. */
  readonly ocspUrls: readonly string[];
  /** Subject and issuer are the same name under RFC 5280 §7.1 (not only byte-equal). */
  readonly selfIssued: boolean;
  /** The nameConstraints extension, or null when absent. */
  readonly nameConstraints: NameConstraints | null;
  /** The names name constraints apply to (subject, SAN forms). */
  readonly constrainedNames: ConstrainedNames;
  readonly criticalExtensions: readonly string[];
  /** Critical extensions not in RECOGNISED_EXTENSIONS. */
  readonly unrecognisedCriticalExtensions: readonly string[];
}

class Malformed extends Error {}

function malformed(why: string): never {
  throw new Malformed(why);
}

function fromDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  const r = asn1js.fromBER(bytes);
  if (r.offset === -1 || r.result.error) malformed(`${what}: not valid ASN.1`);
  if (r.offset !== bytes.byteLength) malformed(`${what}: trailing data`);
  return r.result;
}

function isUniversal(b: asn1js.AsnType, tag: number): boolean {
  return b.idBlock.tagClass === 1 && b.idBlock.tagNumber === tag;
}

function isContext(b: asn1js.AsnType, tag: number): boolean {
  return b.idBlock.tagClass === 3 && b.idBlock.tagNumber === tag;
}

function children(b: asn1js.AsnType, what: string): asn1js.AsnType[] {
  if (!b.idBlock.isConstructed) malformed(`${what}: expected a constructed value`);
  return (b as asn1js.Constructed).valueBlock.value as asn1js.AsnType[];
}

function sequence(b: asn1js.AsnType, what: string): asn1js.AsnType[] {
  if (!isUniversal(b, 16)) malformed(`${what}: expected SEQUENCE`);
  return children(b, what);
}

function primitiveBytes(b: asn1js.AsnType, what: string): Uint8Array {
  if (b.idBlock.isConstructed) malformed(`${what}: expected a primitive value`);
  return new Uint8Array((b as asn1js.Primitive).valueBlock.valueHexView);
}

function ia5(bytes: Uint8Array, what: string): string {
  for (const c of bytes) if (c > 0x7f) malformed(`${what}: IA5String with a non-ASCII byte`);
  return String.fromCharCode(...bytes);
}

function oidOf(b: asn1js.AsnType, what: string): string {
  if (!(b instanceof asn1js.ObjectIdentifier)) malformed(`${what}: expected OBJECT IDENTIFIER`);
  return b.valueBlock.toString();
}

// --- names ---------------------------------------------------------------------------------

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

interface NameAttribute {
  readonly oid: string;
  /** Decoded string value, or undefined for a non-string value. */
  readonly text: string | undefined;
  readonly der: Uint8Array;
}

function stringValue(b: asn1js.AsnType): string | undefined {
  if (b instanceof asn1js.BaseStringBlock || b instanceof asn1js.Utf8String || b instanceof asn1js.BmpString || b instanceof asn1js.UniversalString) {
    return (b as unknown as {valueBlock: {value: string}}).valueBlock.value;
  }
  return undefined;
}

function parseName(der: Uint8Array, what: string): NameAttribute[][] {
  const rdns: NameAttribute[][] = [];
  for (const set of sequence(fromDer(der, what), what)) {
    if (!isUniversal(set, 17)) malformed(`${what}: RDN is not a SET`);
    const rdn: NameAttribute[] = [];
    for (const atv of children(set, what)) {
      const [type, value, ...rest] = sequence(atv, what);
      if (!type || !value || rest.length > 0) malformed(`${what}: bad AttributeTypeAndValue`);
      rdn.push({oid: oidOf(type, what), text: stringValue(value), der: new Uint8Array(value.toBER(false))});
    }
    if (rdn.length === 0) malformed(`${what}: empty RDN`);
    rdns.push(rdn);
  }
  return rdns;
}

/** RFC 4514 escaping, plus hex escapes for every control character (log-safe). */
function escapeRfc4514(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    const code = v.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      out += '\\' + code.toString(16).toUpperCase().padStart(2, '0');
    } else if ('"+,;<>\\'.includes(ch) || (i === 0 && (ch === '#' || ch === ' ')) || (i === v.length - 1 && ch === ' ')) {
      out += '\\' + ch;
    } else {
      out += ch;
    }
  }
  return out;
}

function formatName(rdns: NameAttribute[][]): string {
  return [...rdns]
    .reverse()
    .map(rdn =>
      rdn
        .map(a => {
          const type = SHORT_NAMES[a.oid] ?? a.oid;
          const value = a.text === undefined ? '#' + Buffer.from(a.der).toString('hex') : escapeRfc4514(a.text);
          return `${type}=${value}`;
        })
        .join('+'),
    )
    .join(',');
}

// --- extensions ----------------------------------------------------------------------------

interface GeneralNameValue {
  tag: number;
  block: asn1js.AsnType;
}

function generalNames(items: asn1js.AsnType[], what: string): GeneralNameValue[] {
  return items.map(b => {
    if (b.idBlock.tagClass !== 3 || b.idBlock.tagNumber > 8) malformed(`${what}: bad GeneralName tag`);
    return {tag: b.idBlock.tagNumber, block: b};
  });
}

function parseSubjectAltName(value: Uint8Array): SubjectAltNames {
  const what = 'subjectAltName';
  const items = sequence(fromDer(value, what), what);
  if (items.length === 0) malformed(`${what}: empty`);
  const dns: string[] = [],
    uris: string[] = [],
    emails: string[] = [],
    ips: string[] = [];
  const directoryNames: Buffer[] = [],
    ipBytes: Buffer[] = [];
  const otherForms: NameForm[] = [];
  let otherCount = 0;
  for (const gn of generalNames(items, what)) {
    switch (gn.tag) {
      case 1:
        emails.push(ia5(primitiveBytes(gn.block, what), what));
        break;
      case 2:
        dns.push(ia5(primitiveBytes(gn.block, what), what));
        break;
      case 6:
        uris.push(ia5(primitiveBytes(gn.block, what), what));
        break;
      case 7: {
        const bytes = primitiveBytes(gn.block, what);
        if (bytes.length !== 4 && bytes.length !== 16) malformed(`${what}: iPAddress of ${bytes.length} bytes`);
        ips.push(ipaddr.fromByteArray([...bytes]).toNormalizedString());
        ipBytes.push(Buffer.from(bytes));
        break;
      }
      case 4: {
        const [name, ...rest] = children(gn.block, what);
        if (!name || rest.length > 0 || !isUniversal(name, 16)) malformed(`${what}: bad directoryName`);
        directoryNames.push(Buffer.from(name.toBER(false)));
        otherCount++;
        break;
      }
      default:
        otherForms.push(GENERAL_NAME_FORMS[gn.tag]);
        otherCount++;
    }
  }
  return {dns, uris, emails, ips, otherCount, directoryNames, ipBytes, otherForms};
}

function parseKeyUsage(value: Uint8Array): KeyUsageName[] {
  const b = fromDer(value, 'keyUsage');
  if (!(b instanceof asn1js.BitString)) malformed('keyUsage: expected BIT STRING');
  const bytes = new Uint8Array(b.valueBlock.valueHexView);
  const unused = b.valueBlock.unusedBits;
  const bitCount = bytes.length * 8 - unused;
  const out: KeyUsageName[] = [];
  for (let i = 0; i < KEY_USAGE_BITS.length && i < bitCount; i++) {
    if ((bytes[i >> 3] >> (7 - (i & 7))) & 1) out.push(KEY_USAGE_BITS[i]);
  }
  return out;
}

function parseBasicConstraints(value: Uint8Array): BasicConstraintsInfo {
  const items = sequence(fromDer(value, 'basicConstraints'), 'basicConstraints');
  let ca = false;
  let pathLength: number | undefined;
  let i = 0;
  if (items[i] instanceof asn1js.Boolean) {
    ca = (items[i] as asn1js.Boolean).valueBlock.value;
    i++;
  }
  if (items[i] !== undefined) {
    const n = items[i];
    if (!(n instanceof asn1js.Integer)) malformed('basicConstraints: pathLenConstraint is not an INTEGER');
    const bytes = new Uint8Array(n.valueBlock.valueHexView);
    if (bytes.length > 4 || (bytes[0] & 0x80) !== 0) malformed('basicConstraints: pathLenConstraint out of range');
    pathLength = n.valueBlock.valueDec;
    i++;
  }
  if (i !== items.length) malformed('basicConstraints: unexpected fields');
  return pathLength === undefined ? {ca} : {ca, pathLength};
}

function parseExtKeyUsage(value: Uint8Array): string[] {
  return sequence(fromDer(value, 'extKeyUsage'), 'extKeyUsage').map(b => oidOf(b, 'extKeyUsage'));
}

function parseCrlDistributionPoints(value: Uint8Array): string[] {
  const what = 'cRLDistributionPoints';
  const urls: string[] = [];
  for (const dp of sequence(fromDer(value, what), what)) {
    for (const field of sequence(dp, what)) {
      if (!isContext(field, 0)) continue; // reasons [1], cRLIssuer [2]
      for (const dpName of children(field, what)) {
        if (!isContext(dpName, 0)) continue; // nameRelativeToCRLIssuer [1]
        for (const gn of generalNames(children(dpName, what), what)) {
          if (gn.tag === 6) urls.push(ia5(primitiveBytes(gn.block, what), what));
        }
      }
    }
  }
  return urls;
}

function parseAuthorityInfoAccess(value: Uint8Array): string[] {
  const what = 'authorityInfoAccess';
  const urls: string[] = [];
  for (const ad of sequence(fromDer(value, what), what)) {
    const [method, location, ...rest] = sequence(ad, what);
    if (!method || !location || rest.length > 0) malformed(`${what}: bad AccessDescription`);
    const [gn] = generalNames([location], what);
    if (oidOf(method, what) === OID.adOcsp && gn.tag === 6) urls.push(ia5(primitiveBytes(gn.block, what), what));
  }
  return urls;
}

// --- public key ----------------------------------------------------------------------------

function describeKey(x509: crypto.X509Certificate): PublicKeyDescription {
  try {
    const key = x509.publicKey;
    const type = key.asymmetricKeyType as PublicKeyAlgorithm | undefined;
    const details = key.asymmetricKeyDetails ?? {};
    switch (type) {
      case 'rsa':
      case 'rsa-pss':
        return {algorithm: type, bits: details.modulusLength};
      case 'ec':
        return {algorithm: 'ec', curve: details.namedCurve};
      case 'ed25519':
      case 'ed448':
      case 'dsa':
      case 'dh':
      case 'x25519':
      case 'x448':
        return {algorithm: type};
      default:
        return {algorithm: 'unknown'};
    }
  } catch {
    // Node cannot load the key (explicit curve parameters, unknown algorithm): not usable.
    return {algorithm: 'unknown'};
  }
}

// --- entry points --------------------------------------------------------------------------

/** Parse one DER certificate. Throws AppError AUTH_CERT_MALFORMED. */
export function parseCertificate(input: Uint8Array): ParsedClientCertificate {
  try {
    return parseStrict(input);
  } catch (e) {
    const why = e instanceof Malformed ? e.message : 'unparseable certificate';
    throw new AppError('AUTH_CERT_MALFORMED', 'The client certificate could not be parsed.', {why}, {cause: e});
  }
}

function parseStrict(input: Uint8Array): ParsedClientCertificate {
  if (!(input instanceof Uint8Array) || input.byteLength === 0) malformed('empty input');
  if (input.byteLength > MAX_CERTIFICATE_BYTES) malformed('certificate too large');
  const der = Buffer.from(input);
  const root = fromDer(der, 'certificate');
  const cert = new pkijs.Certificate({schema: root});
  const x509 = new crypto.X509Certificate(der);

  if (cert.signature.algorithmId !== cert.signatureAlgorithm.algorithmId) malformed('inner and outer signature algorithms differ');
  // The signature BIT STRING has no unused bits (else a valid certificate re-encodes under another fingerprint).
  if (cert.signatureValue.valueBlock.unusedBits !== 0) malformed('signature BIT STRING with unused bits');
  const serialBytes = new Uint8Array(cert.serialNumber.valueBlock.valueHexView);
  if (serialBytes.length === 0) malformed('empty serial');
  if ((serialBytes[0] & 0x80) !== 0) malformed('negative serial');

  const subjectDer = Buffer.from(cert.subject.valueBeforeDecode);
  const issuerDer = Buffer.from(cert.issuer.valueBeforeDecode);
  const subjectRdns = parseName(subjectDer, 'subject');
  const issuerRdns = parseName(issuerDer, 'issuer');
  const commonNames: string[] = [];
  for (const rdn of subjectRdns) {
    for (const a of rdn) {
      if (a.oid !== OID.commonName) continue;
      if (a.text === undefined) malformed('commonName is not a string');
      commonNames.push(a.text);
    }
  }

  let sans: SubjectAltNames = {dns: [], uris: [], emails: [], ips: [], otherCount: 0, directoryNames: [], ipBytes: [], otherForms: []};
  let nameConstraints: NameConstraints | null = null;
  let extendedKeyUsage: string[] | null = null;
  let basicConstraints: BasicConstraintsInfo | null = null;
  let keyUsage: KeyUsageName[] | null = null;
  let crlDistributionPoints: string[] = [];
  let ocspUrls: string[] = [];
  const seen = new Set<string>();
  const critical: string[] = [];
  const unrecognisedCritical: string[] = [];
  if (cert.extensions && cert.version !== 2) malformed('extensions in a certificate that is not v3');
  for (const ext of cert.extensions ?? []) {
    if (seen.has(ext.extnID)) malformed(`duplicate extension ${ext.extnID}`);
    seen.add(ext.extnID);
    if (ext.critical) {
      critical.push(ext.extnID);
      if (!RECOGNISED_EXTENSIONS.has(ext.extnID)) unrecognisedCritical.push(ext.extnID);
    }
    const value = new Uint8Array(ext.extnValue.valueBlock.valueHexView);
    switch (ext.extnID) {
      case OID.subjectAltName:
        sans = parseSubjectAltName(value);
        break;
      case OID.keyUsage:
        keyUsage = parseKeyUsage(value);
        break;
      case OID.basicConstraints:
        basicConstraints = parseBasicConstraints(value);
        break;
      case OID.extKeyUsage:
        extendedKeyUsage = parseExtKeyUsage(value);
        break;
      case OID.crlDistributionPoints:
        crlDistributionPoints = parseCrlDistributionPoints(value);
        break;
      case OID.authorityInfoAccess:
        ocspUrls = parseAuthorityInfoAccess(value);
        break;
      case OID.nameConstraints:
        try {
          nameConstraints = parseNameConstraints(value);
        } catch (e) {
          malformed(`nameConstraints: ${e instanceof Error ? e.message : 'malformed'}`);
        }
        break;
    }
  }

  const notBefore = cert.notBefore.value;
  const notAfter = cert.notAfter.value;
  if (!(notBefore instanceof Date) || Number.isNaN(notBefore.getTime()) || !(notAfter instanceof Date) || Number.isNaN(notAfter.getTime())) {
    malformed('bad validity dates');
  }

  const identity: CertificateNames = {
    commonNames,
    dns: sans.dns,
    uris: sans.uris,
    emails: sans.emails,
    ips: sans.ips,
  };

  return Object.freeze({
    der,
    x509,
    pkijs: cert,
    subject: formatName(subjectRdns),
    issuer: formatName(issuerRdns),
    subjectDer,
    issuerDer,
    serialKey: normalizeSerial(serialBytes),
    fingerprint256: x509.fingerprint256,
    notBefore,
    notAfter,
    extendedKeyUsage,
    basicConstraints,
    keyUsage,
    publicKey: describeKey(x509),
    spkiDer: Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER(false)),
    publicKeyBits: Buffer.from(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
    sans,
    commonNames,
    identity,
    crlDistributionPoints,
    ocspUrls,
    selfIssued: namesMatch(subjectDer, issuerDer),
    nameConstraints,
    constrainedNames: {
      subjectDer,
      dns: sans.dns,
      emails: sans.emails,
      uris: sans.uris,
      ipBytes: sans.ipBytes,
      directoryNames: sans.directoryNames,
      otherForms: sans.otherForms,
    },
    criticalExtensions: critical,
    unrecognisedCriticalExtensions: unrecognisedCritical,
  });
}

/** Parse a leaf and its presented chain (each once). Throws AUTH_CERT_MALFORMED. */
export function parseCertificateChain(
  leafDer: Uint8Array,
  chainDer: readonly Uint8Array[] = [],
): {
  leaf: ParsedClientCertificate;
  chain: ParsedClientCertificate[];
} {
  return {leaf: parseCertificate(leafDer), chain: chainDer.map(d => parseCertificate(d))};
}
