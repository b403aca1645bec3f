/**
 * Authority and forwarding policy (pure data + evaluator; the middleware is
 * authority.middleware.ts). What Django's ALLOWED_HOSTS and Envoy's strict authority matching give:
 *
 *  - the names a request may address are SERVER_NAMES, by default the DNS and IP SANs of the
 *    server certificate in force; the Host header and an absolute-form request target must name
 *    one of them (any port), else 421 GUARD_HOST_NOT_ALLOWED. Obfuscated addresses (decimal,
 *    octal, hex, short IPv4 forms) never match: only exact names and canonical IP literals do;
 *  - a TLS SNI naming a different host than Host is refused the same way (domain fronting).
 *    SNI cannot carry an IP literal (RFC 6066 §3), so an IP-literal Host is judged by
 *    SERVER_NAMES alone;
 *  - forwarding headers (Forwarded, X-Forwarded-*, X-Real-IP, X-Original-URL, ...) are REFUSED
 *    (400 GUARD_FORWARDED_UNTRUSTED), not stripped, unless the TCP peer is in TRUSTED_PROXIES: a
 *    refusal shows a misconfigured proxy or a spoofing client at once, stripping would hide both.
 *    From a trusted proxy the values are parsed strictly (RFC 7239 for Forwarded; 400
 *    GUARD_FORWARDED_INVALID otherwise), a host they name must be a server name (421), and a
 *    loopback, link-local, private, metadata or otherwise non-public address in them is refused
 *    (403 GUARD_FORWARDED_ADDRESS_DENIED).
 *
 * No LoopBack imports, no I/O.
 */
import ipaddr from 'ipaddr.js';
import {checkAddress, classifyAddress, ParsedCidr} from '../outbound/ip-policy';

export type AuthorityCode = 'GUARD_HOST_NOT_ALLOWED' | 'GUARD_FORWARDED_UNTRUSTED' | 'GUARD_FORWARDED_INVALID' | 'GUARD_FORWARDED_ADDRESS_DENIED';

export type AuthorityVerdict =
  {readonly ok: true} | {readonly ok: false; readonly code: AuthorityCode; readonly reason: string; readonly header?: string};

export interface AuthorityPolicy {
  /** Allowed names, lower case: host names, `*.` + host name, canonical IP literals. */
  readonly serverNames: readonly string[];
  readonly trustedProxies: readonly ParsedCidr[];
}

export interface AuthorityRequest {
  /** The Host header (undefined for HTTP/1.0 without one). */
  readonly host: string | undefined;
  /** The request target as received (origin-form, absolute-form, ...). */
  readonly url: string;
  /** The TLS SNI (tls.TLSSocket#servername), undefined/false when none was sent. */
  readonly sni: string | false | undefined;
  /** The TCP peer address. */
  readonly peer: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Every header a proxy uses to tell the origin about the original request (lower case). */
export const FORWARDING_HEADERS: readonly string[] = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-ssl',
  'x-forwarded-scheme',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-forwarded-by',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'client-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-original-host',
  'x-host',
  'x-http-host-override',
  'x-original-forwarded-for',
  'x-proxyuser-ip',
  'x-remote-ip',
  'x-remote-addr',
  'x-originating-ip',
];

const DENY = (code: AuthorityCode, reason: string, header?: string): AuthorityVerdict => ({ok: false, code, reason, header});
const OK: AuthorityVerdict = {ok: true};

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`);
const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A parsed authority: the host in canonical lower-case form (IPv6 without brackets). */
export interface Authority {
  readonly host: string;
  readonly ip: boolean;
  readonly port?: number;
}

/**
 * Parse `host[:port]` strictly (RFC 3986 authority without userinfo): a DNS name, a dotted-quad
 * IPv4 literal or a bracketed IPv6 literal (no zone), an optional decimal port 1-65535.
 * Everything else (userinfo, trailing dots, percent-encoding, decimal/octal/hex IPv4) is null.
 */
export function parseAuthority(text: string): Authority | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 300) return null;
  let hostPart: string;
  let portPart: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return null;
    hostPart = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portPart = rest.slice(1);
    }
    if (!hostPart.includes(':') || hostPart.includes('%') || !ipaddr.IPv6.isValid(hostPart)) return null;
    const info = classifyAddress(hostPart);
    if (!info || info.family !== 6) return null;
    hostPart = info.address;
  } else {
    const i = text.lastIndexOf(':');
    if (i >= 0) {
      hostPart = text.slice(0, i);
      portPart = text.slice(i + 1);
    } else {
      hostPart = text;
    }
    hostPart = hostPart.toLowerCase();
    if (hostPart.includes(':')) return null;
    if (!V4.test(hostPart) && (!HOSTNAME.test(hostPart) || /^[\d.]+$/.test(hostPart) || /^0x/i.test(hostPart))) return null;
  }
  let port: number | undefined;
  if (portPart !== undefined) {
    if (!/^\d{1,5}$/.test(portPart) || Number(portPart) < 1 || Number(portPart) > 65535) return null;
    port = Number(portPart);
  }
  const ip = hostPart.includes(':') || V4.test(hostPart);
  return {host: hostPart, ip, port};
}

/** Canonical form of a configured or certificate name (IP literals canonicalised). */
export function canonicalName(name: string): string | undefined {
  const n = name.trim().toLowerCase();
  if (n.includes(':') || V4.test(n)) return classifyAddress(n)?.address;
  const bare = n.startsWith('*.') ? n.slice(2) : n;
  return HOSTNAME.test(bare) ? n : undefined;
}

/** True when `host` (canonical) is one of the names; `*.x` matches exactly one more label. */
export function nameAllowed(host: string, names: readonly string[]): boolean {
  for (const n of names) {
    if (n === host) return true;
    if (n.startsWith('*.')) {
      const i = host.indexOf('.');
      if (i > 0 && host.slice(i + 1) === n.slice(2) && !host.includes(':') && !V4.test(host)) return true;
    }
  }
  return false;
}

/** The DNS and IP SANs of a certificate, from X509Certificate#subjectAltName. */
export function namesFromSubjectAltName(san: string | undefined): string[] {
  const out: string[] = [];
  for (const part of (san ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part.trim());
    if (!m) continue;
    const c = canonicalName(m[2]);
    if (c) out.push(c);
  }
  return out;
}

function inTrusted(peer: string | undefined, cidrs: readonly ParsedCidr[]): boolean {
  if (!peer || cidrs.length === 0) return false;
  const info = classifyAddress(peer);
  if (!info) return false;
  const candidates = [info.address, ...(info.embedded ? [info.embedded.address] : [])];
  return candidates.some(text => {
    const a = ipaddr.parse(text);
    return cidrs.some(([net, bits]) => net.kind() === a.kind() && a.match([net, bits] as never));
  });
}

/** A forwarded address must be a public one (no loopback, link-local, private, metadata, ...). */
function addressVerdict(text: string, header: string): AuthorityVerdict {
  const v = checkAddress(text, {allowedCidrs: []});
  if (v.allowed) return OK;
  return v.info ? DENY('GUARD_FORWARDED_ADDRESS_DENIED', v.reason, header) : DENY('GUARD_FORWARDED_INVALID', 'not-an-ip-literal', header);
}

function hostVerdict(text: string, names: readonly string[], header: string): AuthorityVerdict {
  const a = parseAuthority(text);
  if (!a) return DENY('GUARD_FORWARDED_INVALID', 'bad-authority', header);
  if (a.ip) {
    const v = addressVerdict(a.host, header);
    if (!v.ok && !nameAllowed(a.host, names)) return v;
  }
  return nameAllowed(a.host, names) ? OK : DENY('GUARD_HOST_NOT_ALLOWED', 'forwarded-host', header);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const OBFNODE = /^_[A-Za-z0-9._-]{1,64}$/;

/** RFC 7239 §6 node: IPv4, "[IPv6]" (quoted), "unknown" or an obfuscated identifier, optional port. */
function forwardedNode(value: string, header: string): AuthorityVerdict {
  let name = value;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return DENY('GUARD_FORWARDED_INVALID', 'bad-node', header);
    name = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return DENY('GUARD_FORWARDED_INVALID', 'bad-node', header);
      port = rest.slice(1);
    }
    if (!name.includes(':')) return DENY('GUARD_FORWARDED_INVALID', 'bad-node', header);
  } else {
    const i = value.indexOf(':');
    if (i >= 0) {
      name = value.slice(0, i);
      port = value.slice(i + 1);
    }
    if (name.includes(':')) return DENY('GUARD_FORWARDED_INVALID', 'bad-node', header);
  }
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535) && !OBFNODE.test(port))
    return DENY('GUARD_FORWARDED_INVALID', 'bad-node-port', header);
  if (name === 'unknown' || OBFNODE.test(name)) return OK;
  return addressVerdict(name, header);
}

/** Split on a separator outside quoted strings; null on an unterminated quote. */
function splitOutsideQuotes(s: string, sep: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quoted) {
      cur += ch;
      if (ch === '\\') {
        if (i + 1 >= s.length) return null;
        cur += s[++i];
      } else if (ch === '"') quoted = false;
    } else if (ch === '"') {
      quoted = true;
      cur += ch;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) return null;
  out.push(cur);
  return out;
}

/** Check one Forwarded header value strictly (RFC 7239 §4). */
export function checkForwarded(value: string, names: readonly string[]): AuthorityVerdict {
  const header = 'forwarded';
  const elements = splitOutsideQuotes(value, ',');
  if (!elements) return DENY('GUARD_FORWARDED_INVALID', 'unterminated-quote', header);
  for (const element of elements) {
    const pairs = splitOutsideQuotes(element.trim(), ';');
    if (!pairs || pairs.length === 0) return DENY('GUARD_FORWARDED_INVALID', 'bad-element', header);
    const seen = new Set<string>();
    for (const pair of pairs) {
      const p = pair.trim();
      const eq = p.indexOf('=');
      if (eq <= 0) return DENY('GUARD_FORWARDED_INVALID', 'bad-pair', header);
      const key = p.slice(0, eq).toLowerCase();
      let v = p.slice(eq + 1);
      if (!TOKEN.test(key) || seen.has(key)) return DENY('GUARD_FORWARDED_INVALID', 'bad-parameter', header);
      seen.add(key);
      if (v.startsWith('"')) {
        if (v.length < 2 || !v.endsWith('"')) return DENY('GUARD_FORWARDED_INVALID', 'bad-quoted-string', header);
        v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      } else if (!TOKEN.test(v)) {
        // An IPv6 node or a host with a port must be quoted (RFC 7239 §6): ':' and '[' are not token characters.
        return DENY('GUARD_FORWARDED_INVALID', 'bad-token', header);
      }
      // eslint-disable-next-line no-control-regex -- refusing control characters is the point
      if (v.length === 0 || /[\x00-\x1f\x7f\s]/.test(v)) return DENY('GUARD_FORWARDED_INVALID', 'bad-value', header);
      let r: AuthorityVerdict;
      switch (key) {
        case 'for':
        case 'by':
          r = forwardedNode(v, header);
          break;
        case 'host':
          r = hostVerdict(v, names, header);
          break;
        case 'proto':
          r = v === 'https' || v === 'http' ? OK : DENY('GUARD_FORWARDED_INVALID', 'bad-proto', header);
          break;
        default:
          r = DENY('GUARD_FORWARDED_INVALID', 'unknown-parameter', header);
      }
      if (!r.ok) return r;
    }
  }
  return OK;
}

function list(value: string): string[] {
  return value.split(',').map(s => s.trim());
}

const PATH_VALUE = /^\/[\x21-\x7e]*$/;

/** The value of one forwarding header from a trusted proxy, parsed strictly. */
export function checkForwardingHeader(name: string, value: string, names: readonly string[]): AuthorityVerdict {
  switch (name) {
    case 'forwarded':
      return checkForwarded(value, names);
    case 'x-forwarded-host':
    case 'x-original-host':
    case 'x-host':
    case 'x-http-host-override':
      for (const h of list(value)) {
        const r = hostVerdict(h, names, name);
        if (!r.ok) return r;
      }
      return OK;
    case 'x-forwarded-proto':
    case 'x-forwarded-scheme':
      return list(value).every(v => v === 'https' || v === 'http') ? OK : DENY('GUARD_FORWARDED_INVALID', 'bad-proto', name);
    case 'x-forwarded-port':
      return list(value).every(v => /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535)
        ? OK
        : DENY('GUARD_FORWARDED_INVALID', 'bad-port', name);
    case 'x-forwarded-ssl':
      return value === 'on' || value === 'off' ? OK : DENY('GUARD_FORWARDED_INVALID', 'bad-value', name);
    case 'x-forwarded-prefix':
    case 'x-forwarded-uri':
    case 'x-forwarded-path':
    case 'x-original-url':
    case 'x-original-uri':
    case 'x-rewrite-url':
      // A path only (never a URL naming another host); its content is the request guard's.
      return PATH_VALUE.test(value) && !value.startsWith('//') ? OK : DENY('GUARD_FORWARDED_INVALID', 'bad-path', name);
    case 'x-forwarded-server':
      return HOSTNAME.test(value.toLowerCase()) ? OK : DENY('GUARD_FORWARDED_INVALID', 'bad-host', name);
    default:
      // Address lists: X-Forwarded-For, X-Real-IP and the vendor variants.
      for (const a of list(value)) {
        if (a === '') return DENY('GUARD_FORWARDED_INVALID', 'empty-element', name);
        const r = addressVerdict(a, name);
        if (!r.ok) return r;
      }
      return OK;
  }
}

/** The whole decision for one request. Never throws. */
export function checkRequestAuthority(req: AuthorityRequest, policy: AuthorityPolicy): AuthorityVerdict {
  // 1. Host (and the absolute-form target, which RFC 9112 §3.2.2 makes override Host).
  let hostName: Authority | undefined;
  if (req.host !== undefined) {
    const a = parseAuthority(req.host);
    if (!a) return DENY('GUARD_HOST_NOT_ALLOWED', 'bad-host', 'host');
    if (!nameAllowed(a.host, policy.serverNames)) return DENY('GUARD_HOST_NOT_ALLOWED', 'host-not-a-server-name', 'host');
    hostName = a;
  }
  if (!req.url.startsWith('/') && req.url !== '*') {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(req.url);
    if (!m) return DENY('GUARD_HOST_NOT_ALLOWED', 'bad-target', 'target');
    if (m[1].toLowerCase() !== 'https') return DENY('GUARD_HOST_NOT_ALLOWED', 'target-scheme', 'target');
    const a = parseAuthority(m[2]);
    if (!a) return DENY('GUARD_HOST_NOT_ALLOWED', 'bad-target-authority', 'target');
    if (!nameAllowed(a.host, policy.serverNames)) return DENY('GUARD_HOST_NOT_ALLOWED', 'target-not-a-server-name', 'target');
    if (hostName && hostName.host !== a.host) return DENY('GUARD_HOST_NOT_ALLOWED', 'target-host-mismatch', 'target');
    hostName ??= a;
  }
  // 2. SNI against Host (both DNS names: SNI never carries an IP literal).
  if (typeof req.sni === 'string' && req.sni !== '' && hostName && !hostName.ip && req.sni.toLowerCase() !== hostName.host) {
    return DENY('GUARD_HOST_NOT_ALLOWED', 'sni-host-mismatch', 'host');
  }
  // 3. Forwarding headers.
  const present = FORWARDING_HEADERS.filter(h => req.headers[h] !== undefined);
  if (present.length === 0) return OK;
  if (!inTrusted(req.peer, policy.trustedProxies)) return DENY('GUARD_FORWARDED_UNTRUSTED', 'peer-not-a-trusted-proxy', present[0]);
  for (const h of present) {
    const raw = req.headers[h];
    const value = Array.isArray(raw) ? raw.join(', ') : String(raw);
    const r = checkForwardingHeader(h, value, policy.serverNames);
    if (!r.ok) return r;
  }
  return OK;
}
