/**
 * MTLS_ALLOWED_SUBJECTS: comma-separated identity rules, parsed once at start-up.
 *   cn:NAME            exact Common Name (only consulted when a cn: rule exists)
 *   dns:NAME           exact dNSName SAN (case-insensitive); "*.example.com" matches one label
 *   uri:spiffe://td/p  URI SAN; "*" allowed as a whole path segment
 *   email:ADDR         rfc822Name SAN (case-insensitive domain part)
 *   ip:ADDR            iPAddress SAN (IPv4 or IPv6, compared in canonical form)
 * Pure module: no LoopBack imports, no I/O.
 */
import ipaddr from 'ipaddr.js';
import type {CertificateNames} from '../x509/certificate';

export type IdentityRuleKind = 'cn' | 'dns' | 'uri' | 'email' | 'ip';

export interface IdentityRule {
  readonly kind: IdentityRuleKind;
  readonly value: string;
  /** Original text, for logs and --explain output. */
  readonly text: string;
}

/** Structured identity taken from the certificate DER (never from Node's subjectaltname string): src/x509/certificate.ts. */
export type CertificateIdentity = CertificateNames;

export class IdentityRuleError extends Error {
  constructor(
    readonly rule: string,
    reason: string,
  ) {
    super(`invalid identity rule "${rule}": ${reason}`);
  }
}

// Printable ASCII only, no whitespace, no comma; rules are operator input but are still validated.
const SAFE = /^[\x21-\x2b\x2d-\x7e]+$/;
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function parseIdentityRules(text: string): IdentityRule[] {
  const rules: IdentityRule[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const colon = item.indexOf(':');
    if (colon <= 0) throw new IdentityRuleError(item, 'expected kind:value');
    const kind = item.slice(0, colon).toLowerCase();
    const value = item.slice(colon + 1);
    if (!SAFE.test(value)) throw new IdentityRuleError(item, 'value must be printable ASCII without spaces');
    switch (kind) {
      case 'cn':
        rules.push({kind, value, text: item});
        break;
      case 'dns':
        if (!DNS_NAME.test(value)) throw new IdentityRuleError(item, 'not a DNS name');
        rules.push({kind, value: value.toLowerCase(), text: item});
        break;
      case 'uri': {
        let u: URL;
        try {
          u = new URL(value);
        } catch {
          throw new IdentityRuleError(item, 'not a URI');
        }
        if (u.username || u.password || u.search || u.hash) throw new IdentityRuleError(item, 'URI rules take no userinfo, query or fragment');
        const segments = u.pathname.split('/');
        if (segments.some(s => s.includes('*') && s !== '*')) throw new IdentityRuleError(item, '"*" must be a whole path segment');
        if (u.hostname.includes('*')) throw new IdentityRuleError(item, '"*" is not allowed in the trust domain');
        rules.push({kind, value, text: item});
        break;
      }
      case 'email': {
        const at = value.lastIndexOf('@');
        if (at <= 0 || at === value.length - 1) throw new IdentityRuleError(item, 'not an email address');
        rules.push({kind, value: value.slice(0, at) + '@' + value.slice(at + 1).toLowerCase(), text: item});
        break;
      }
      case 'ip':
        if (!ipaddr.isValid(value)) throw new IdentityRuleError(item, 'not an IP address');
        rules.push({kind, value: ipaddr.parse(value).toNormalizedString(), text: item});
        break;
      default:
        throw new IdentityRuleError(item, `unknown kind "${kind}" (cn, dns, uri, email, ip)`);
    }
  }
  return rules;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function dnsMatches(pattern: string, name: string): boolean {
  const n = name.toLowerCase();
  if (CONTROL.test(n)) return false;
  if (!pattern.startsWith('*.')) return pattern === n;
  const suffix = pattern.slice(1); // ".example.com"
  if (!n.endsWith(suffix)) return false;
  const label = n.slice(0, n.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

function uriMatches(pattern: string, uri: string): boolean {
  if (CONTROL.test(uri)) return false;
  let p: URL, u: URL;
  try {
    p = new URL(pattern);
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.username || u.password || u.search || u.hash) return false;
  if (p.protocol !== u.protocol || p.host !== u.host) return false;
  // Compare the raw path text: percent-encoded or dot segments are not equivalent to a rule.
  const rawPath = uri.slice(uri.indexOf(u.host) + u.host.length);
  if (rawPath !== u.pathname) return false;
  const ps = p.pathname.split('/');
  const us = u.pathname.split('/');
  if (ps.length !== us.length) return false;
  return ps.every((seg, i) => (seg === '*' ? us[i].length > 0 : seg === us[i]));
}

function emailMatches(pattern: string, email: string): boolean {
  if (CONTROL.test(email)) return false;
  const at = email.lastIndexOf('@');
  if (at <= 0) return false;
  return pattern === email.slice(0, at) + '@' + email.slice(at + 1).toLowerCase();
}

function ipMatches(pattern: string, ip: string): boolean {
  if (!ipaddr.isValid(ip)) return false;
  return ipaddr.parse(ip).toNormalizedString() === pattern;
}

/** The first rule that the identity satisfies, or undefined. An empty rule list matches nothing. */
export function matchIdentity(rules: readonly IdentityRule[], id: CertificateIdentity): IdentityRule | undefined {
  for (const rule of rules) {
    switch (rule.kind) {
      case 'cn':
        if (id.commonNames.some(cn => !CONTROL.test(cn) && cn === rule.value)) return rule;
        break;
      case 'dns':
        if (id.dns.some(d => dnsMatches(rule.value, d))) return rule;
        break;
      case 'uri':
        if (id.uris.some(u => uriMatches(rule.value, u))) return rule;
        break;
      case 'email':
        if (id.emails.some(e => emailMatches(rule.value, e))) return rule;
        break;
      case 'ip':
        if (id.ips.some(ip => ipMatches(rule.value, ip))) return rule;
        break;
    }
  }
  return undefined;
}
