/**
 * Name constraints, RFC 5280 §4.2.1.10 and §6.1, processed by this project (pkijs 3's engine is
 * not used for them: it checks directoryName subtrees against the subject only, joins the
 * permitted subtrees of successive CAs instead of intersecting them, and applies them to
 * self-issued intermediates).
 *
 * Name forms: directoryName (the subject AND every directoryName in subjectAltName), dNSName,
 * rfc822Name (subjectAltName and the subject's emailAddress attributes), uniformResourceIdentifier
 * (its host) and iPAddress (address/mask). Any other constrained form a certificate carries is a
 * violation (it cannot be checked). Semantics, as in OpenSSL's `NAME_CONSTRAINTS_check`:
 *   - dNSName "example.com" covers example.com and any name below it; ".example.com" only names below;
 *   - rfc822Name "user@host" one mailbox (local part case-sensitive), "host" every mailbox at that
 *     host, ".example.com" every mailbox at a host below example.com;
 *   - URI: the same host rules as dNSName, applied to the URI's host; a URI without a host is a violation;
 *   - iPAddress: same family and (address AND mask) equal;
 *   - directoryName: the subtree's RDNs are a prefix of the name's (RDNs compared per §7.1).
 * Processing (§6.1.3 (b)(c), §6.1.4 (g)): every certificate below a constraining CA is checked,
 * except self-issued intermediates; permitted subtrees of successive CAs intersect (each CA's set
 * must permit the name), excluded subtrees accumulate. The trust anchor's own nameConstraints
 * extension applies too, as in OpenSSL (RFC 5280 §6.2 lets an anchor carry constraints).
 * Subtrees with minimum/maximum (which RFC 5280 forbids) make the path invalid.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {ErrorCode} from '../errors';
import {DerReader, TAG} from './der';
import {CanonicalRdn, canonicalRdns, nameAttributes, OID_EMAIL_ADDRESS, withinDirectorySubtree} from './name';

export type NameForm =
  | 'otherName'
  | 'rfc822Name'
  | 'dNSName'
  | 'x400Address'
  | 'directoryName'
  | 'ediPartyName'
  | 'uniformResourceIdentifier'
  | 'iPAddress'
  | 'registeredID';

export const GENERAL_NAME_FORMS: readonly NameForm[] = [
  'otherName',
  'rfc822Name',
  'dNSName',
  'x400Address',
  'directoryName',
  'ediPartyName',
  'uniformResourceIdentifier',
  'iPAddress',
  'registeredID',
];

export interface Subtree {
  readonly form: NameForm;
  /** Display form for details: "dNSName:example.com", "iPAddress:10.0.0.0/255.0.0.0", "directoryName:<hex>". */
  readonly display: string;
  readonly text?: string;
  readonly rdns?: readonly CanonicalRdn[];
  readonly ip?: {readonly address: Buffer; readonly mask: Buffer};
  /** minimum != 0 or maximum present (forbidden by RFC 5280). */
  readonly hasRange: boolean;
}

export interface NameConstraints {
  /** null: no permittedSubtrees field. */
  readonly permitted: readonly Subtree[] | null;
  readonly excluded: readonly Subtree[];
}

/** The names of one certificate that constraints apply to. */
export interface ConstrainedNames {
  /** Subject DN (DER), checked unless empty. */
  readonly subjectDer: Uint8Array;
  readonly dns: readonly string[];
  readonly emails: readonly string[];
  readonly uris: readonly string[];
  /** Raw iPAddress octets (4 or 16). */
  readonly ipBytes: readonly Uint8Array[];
  /** DER Names of directoryName SANs. */
  readonly directoryNames: readonly Uint8Array[];
  /** Forms present in subjectAltName that are not listed above. */
  readonly otherForms: readonly NameForm[];
}

export interface PathCertificate {
  readonly subject: string;
  readonly selfIssued: boolean;
  readonly nameConstraints: NameConstraints | null;
  readonly constrainedNames: ConstrainedNames;
}

function displayIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) parts.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return parts.join(':');
}

function safeText(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}...` : s);
}

/**
 * Parse the nameConstraints extension value (DER). Throws AppError `code` on malformed DER, an empty
 * extension (RFC 5280: at least one of the fields), an empty subtree list or a malformed base name.
 */
export function parseNameConstraints(value: Uint8Array, code: ErrorCode = 'AUTH_CERT_MALFORMED'): NameConstraints {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const r = new DerReader(buf, code);
  const end = r.expect(0, buf.length, TAG.SEQUENCE, 'NameConstraints');
  if (end !== buf.length) r.fail('trailing data after NameConstraints', end);
  let permitted: Subtree[] | null = null;
  let excluded: Subtree[] = [];
  let p = r.start;
  if (p === end) r.fail('empty NameConstraints', p);
  if (r.peek(p, end) === TAG.CTX0_CONSTRUCTED) {
    const e = r.header(p, end);
    permitted = subtrees(r, r.start, e, code);
    p = e;
  }
  if (r.peek(p, end) === TAG.CTX1_CONSTRUCTED) {
    const e = r.header(p, end);
    excluded = subtrees(r, r.start, e, code);
    p = e;
  }
  if (p !== end) r.fail('unexpected field in NameConstraints', p);
  return {permitted, excluded};
}

function subtrees(r: DerReader, start: number, end: number, code: ErrorCode): Subtree[] {
  const out: Subtree[] = [];
  let p = start;
  while (p < end) {
    const stEnd = r.expect(p, end, TAG.SEQUENCE, 'GeneralSubtree');
    const baseStart = r.start;
    const baseEnd = r.header(baseStart, stEnd);
    const tag = r.tag;
    const cStart = r.start;
    let hasRange = false;
    let q = baseEnd;
    while (q < stEnd) {
      const t = r.buf[q];
      const e = r.header(q, stEnd);
      if (t !== 0x80 && t !== 0x81) r.fail('unexpected field in GeneralSubtree', q);
      r.checkInteger(r.start, e);
      hasRange = true; // DER omits minimum 0 (DEFAULT): any minimum or maximum present is a range
      q = e;
    }
    out.push(subtreeOf(r, tag, cStart, baseEnd, hasRange, code));
    p = stEnd;
  }
  if (out.length === 0) r.fail('empty GeneralSubtrees', start);
  return out;
}

function ia5(r: DerReader, start: number, end: number): string {
  for (let i = start; i < end; i++) if (r.buf[i] > 0x7f) r.fail('IA5String with a non-ASCII byte', i);
  return r.buf.toString('latin1', start, end);
}

function subtreeOf(r: DerReader, tag: number, start: number, end: number, hasRange: boolean, code: ErrorCode): Subtree {
  const n = tag & 0x1f;
  if ((tag & 0xc0) !== 0x80 || n > 8) r.fail('GeneralName with a non-context tag', start);
  const form = GENERAL_NAME_FORMS[n];
  switch (form) {
    case 'rfc822Name':
    case 'dNSName':
    case 'uniformResourceIdentifier': {
      if (tag & 0x20) r.fail(`${form} constructed`, start);
      const text = ia5(r, start, end);
      return {form, text, display: `${form}:${safeText(text)}`, hasRange};
    }
    case 'iPAddress': {
      if (tag & 0x20) r.fail('iPAddress constructed', start);
      const len = end - start;
      if (len !== 8 && len !== 32) r.fail('iPAddress subtree must be address and mask (8 or 32 octets)', start);
      const address = Buffer.from(r.buf.subarray(start, start + len / 2));
      const mask = Buffer.from(r.buf.subarray(start + len / 2, end));
      return {form, ip: {address, mask}, display: `iPAddress:${displayIp(address)}/${displayIp(mask)}`, hasRange};
    }
    case 'directoryName': {
      if (!(tag & 0x20)) r.fail('directoryName not constructed', start);
      const nameEnd = r.expect(start, end, TAG.SEQUENCE, 'directoryName');
      if (nameEnd !== end) r.fail('trailing data after directoryName', nameEnd);
      const der = r.buf.subarray(start, end);
      return {form, rdns: canonicalRdns(der, code), display: `directoryName:${der.toString('hex').slice(0, 400)}`, hasRange};
    }
    default:
      if (tag & 0x20) r.checkTlvs(start, end);
      return {form, display: `${form}:${r.buf.toString('hex', start, end).slice(0, 400)}`, hasRange};
  }
}

// --- matching ----------------------------------------------------------------------------

function hostWithin(host: string, base: string): boolean {
  if (base.length === 0) return true;
  const h = host.toLowerCase();
  const b = base.toLowerCase();
  if (b.startsWith('.')) return h.length > b.length && h.endsWith(b);
  return h === b || (h.length > b.length && h.endsWith(b) && h[h.length - b.length - 1] === '.');
}

function emailWithin(email: string, base: string): boolean | undefined {
  const at = email.lastIndexOf('@');
  if (at <= 0) return undefined; // not a mailbox: cannot be checked
  const local = email.slice(0, at);
  const host = email.slice(at + 1).toLowerCase();
  if (base.startsWith('.')) return host.length >= base.length && host.endsWith(base.toLowerCase());
  const bat = base.lastIndexOf('@');
  if (bat >= 0) return base.slice(0, bat) === local && base.slice(bat + 1).toLowerCase() === host;
  return base.toLowerCase() === host;
}

/** The host of a URI with an authority ("scheme://[userinfo@]host[:port]/..."), or undefined. */
export function uriHost(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (!m) return undefined;
  let authority = m[1];
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close > 0 ? authority.slice(1, close) : undefined;
  }
  const host = authority.replace(/:\d*$/, '');
  return host === '' ? undefined : host;
}

function ipWithin(ip: Uint8Array, base: {address: Buffer; mask: Buffer}): boolean {
  if (ip.length !== base.address.length) return false;
  for (let i = 0; i < ip.length; i++) if ((ip[i] & base.mask[i]) !== (base.address[i] & base.mask[i])) return false;
  return true;
}

interface NameToCheck {
  form: NameForm;
  display: string;
  /** true/false: within/outside; undefined: the name cannot be checked against this subtree form. */
  within(s: Subtree): boolean | undefined;
}

function namesOf(c: ConstrainedNames): NameToCheck[] {
  const out: NameToCheck[] = [];
  const subject = canonicalRdns(c.subjectDer);
  if (subject.length > 0) {
    out.push({form: 'directoryName', display: 'subject', within: s => withinDirectorySubtree(subject, s.rdns!)});
  }
  for (const [i, der] of c.directoryNames.entries()) {
    const rdns = canonicalRdns(der);
    out.push({form: 'directoryName', display: `subjectAltName directoryName #${i + 1}`, within: s => withinDirectorySubtree(rdns, s.rdns!)});
  }
  for (const d of c.dns) out.push({form: 'dNSName', display: `dNSName ${safeText(d)}`, within: s => hostWithin(d, s.text!)});
  const emails = [...c.emails];
  for (const a of nameAttributes(c.subjectDer)) if (a.oid === OID_EMAIL_ADDRESS && a.text !== undefined) emails.push(a.text);
  for (const e of emails) out.push({form: 'rfc822Name', display: `rfc822Name ${safeText(e)}`, within: s => emailWithin(e, s.text!)});
  for (const u of c.uris) {
    const host = uriHost(u);
    out.push({
      form: 'uniformResourceIdentifier',
      display: `URI ${safeText(u)}`,
      within: s => (host === undefined ? undefined : hostWithin(host, s.text!)),
    });
  }
  for (const ip of c.ipBytes) out.push({form: 'iPAddress', display: `iPAddress ${displayIp(ip)}`, within: s => ipWithin(ip, s.ip!)});
  for (const form of c.otherForms) out.push({form, display: form, within: () => undefined});
  return out;
}

/** Bound on names x subtrees per certificate (OpenSSL applies a similar bound against hostile inputs). */
const MAX_COMPARISONS = 1 << 20;

interface Active {
  /** One entry per constraining CA that permits this form: the name must be within one subtree of each. */
  permitted: Array<{from: string; subtrees: Subtree[]}>;
  excluded: Array<{from: string; subtree: Subtree}>;
}

/**
 * Apply the name constraints along `path` (leaf first, anchor last). Returns undefined when every
 * certificate's names satisfy them, else a detail naming the certificate, its name and the
 * violated subtree.
 */
export function checkNameConstraints(path: readonly PathCertificate[]): string | undefined {
  const active = new Map<NameForm, Active>();
  const state = (form: NameForm): Active => {
    let a = active.get(form);
    if (!a) active.set(form, (a = {permitted: [], excluded: []}));
    return a;
  };
  for (let i = path.length - 1; i >= 0; i--) {
    const cert = path[i];
    const isLeaf = i === 0;
    const isAnchor = i === path.length - 1;
    // §6.1.3 (b)(c): every certificate below a constraint, but self-issued intermediates.
    if (!isAnchor && (isLeaf || !cert.selfIssued) && active.size > 0) {
      let names: NameToCheck[];
      try {
        names = namesOf(cert.constrainedNames);
      } catch {
        return `${cert.subject}: a name cannot be read for the name-constraint check`;
      }
      let comparisons = 0;
      for (const n of names) {
        const a = active.get(n.form);
        if (!a) continue;
        for (const {from, subtree} of a.excluded) {
          if (++comparisons > MAX_COMPARISONS) return `name constraints too complex at ${cert.subject}`;
          const w = n.within(subtree);
          if (w === undefined) return `${cert.subject}: ${n.display} cannot be checked against excluded subtree ${subtree.display} (from ${from})`;
          if (w) return `${cert.subject}: ${n.display} is within excluded subtree ${subtree.display} (from ${from})`;
        }
        for (const {from, subtrees} of a.permitted) {
          let ok = false;
          for (const s of subtrees) {
            if (++comparisons > MAX_COMPARISONS) return `name constraints too complex at ${cert.subject}`;
            const w = n.within(s);
            if (w === undefined) return `${cert.subject}: ${n.display} cannot be checked against permitted subtree ${s.display} (from ${from})`;
            if (w) {
              ok = true;
              break;
            }
          }
          if (!ok)
            return `${cert.subject}: ${n.display} is not within permitted subtree(s) ${subtrees.map(s => s.display).join(', ')} (from ${from})`;
        }
      }
    }
    // §6.1.4 (g): a CA's constraints apply to everything below it (intersection for permitted).
    if (!isLeaf && cert.nameConstraints) {
      const nc = cert.nameConstraints;
      for (const s of [...(nc.permitted ?? []), ...nc.excluded]) {
        if (s.hasRange) return `${cert.subject}: name constraint ${s.display} has a minimum or maximum (RFC 5280 forbids them)`;
      }
      if (nc.permitted) {
        const byForm = new Map<NameForm, Subtree[]>();
        for (const s of nc.permitted) byForm.set(s.form, [...(byForm.get(s.form) ?? []), s]);
        for (const [form, subtrees] of byForm) state(form).permitted.push({from: cert.subject, subtrees});
      }
      for (const s of nc.excluded) state(s.form).excluded.push({from: cert.subject, subtree: s});
    }
  }
  return undefined;
}
