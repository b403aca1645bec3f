/**
 * Address policy for outbound connections (SSRF). Classifies an IP address with ipaddr.js and
 * decides whether the service may connect to it.
 *
 * Allowed by default: only global unicast — IPv4 whose ipaddr.js range is `unicast`, IPv6 inside
 * 2000::/3 whose range is `unicast` (plus 6to4/NAT64 forms of an allowed IPv4).
 * Denied: loopback, unspecified, private (RFC 1918), link-local, CGNAT (100.64/10), multicast,
 * broadcast, reserved/documentation/benchmarking blocks, unique-local (fc00::/7), site-local
 * (fec0::/10), Teredo, IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d),
 * anything outside 2000::/3, IPv4-mapped / NAT64 (64:ff9b::/96) / 6to4 (2002::/16) forms of a
 * denied IPv4, the local-use NAT64 prefix 64:ff9b:1::/48, zone-scoped addresses, and the cloud
 * metadata endpoints (METADATA_ADDRESSES, including public-looking ones such as 168.63.129.16).
 *
 * Operator exceptions (OUTBOUND_ALLOWED_CIDRS) re-open a denied address, e.g. an internal OCSP
 * responder — except the hard denials: metadata endpoints, unspecified, multicast and broadcast.
 *
 * Only strict textual forms are accepted (dotted-quad IPv4 with decimal octets, RFC 4291 IPv6);
 * the legacy forms ipaddr.js would also parse (octal, hex, 1-3 parts) are refused here: WHATWG URL
 * has already canonicalised URL hosts, and resolvers return canonical text.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import ipaddr from 'ipaddr.js';
import {METADATA_ADDRESSES} from './metadata';

export interface AddressInfo {
  /** Canonical text (IPv4 dotted quad; IPv6 RFC 5952 lower case). */
  readonly address: string;
  readonly family: 4 | 6;
  /** ipaddr.js range name, or one of ours: 'metadata', 'nonGlobal', 'ipv4Compatible', 'nat64Local'. */
  readonly range: string;
  /** The IPv4 address embedded in an IPv4-mapped/translated/compatible/NAT64/6to4 IPv6 address. */
  readonly embedded?: AddressInfo;
  readonly metadata: boolean;
}

export type AddressVerdict =
  | {readonly allowed: true; readonly info: AddressInfo; readonly via: 'public' | 'cidr-exception'}
  | {readonly allowed: false; readonly info: AddressInfo | null; readonly reason: string; readonly hard: boolean};

export interface AddressPolicy {
  /** Parsed operator exceptions (parseCidrList). */
  readonly allowedCidrs: readonly ParsedCidr[];
}

export type ParsedCidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const METADATA_SET: ReadonlySet<string> = new Set(METADATA_ADDRESSES.map(a => canonical(ipaddr.parse(a))));

function canonical(a: ipaddr.IPv4 | ipaddr.IPv6): string {
  return a.kind() === 'ipv4' ? a.toString() : (a as ipaddr.IPv6).toRFC5952String();
}

const V4_STRICT = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parse an address in strict textual form, or null. Never throws. */
export function parseStrictAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (typeof text !== 'string' || text.length > 64) return null;
  let t = text;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (V4_STRICT.test(t)) return ipaddr.IPv4.parse(t);
  if (t.includes(':') && t.includes('.')) {
    // ipaddr.js 2.x reads the IPv4-compatible form `::a.b.c.d` as the IPv4-mapped `::ffff:a.b.c.d`
    // (checked). Rewrite a trailing dotted quad into two hex groups ourselves, then parse.
    const m = /^(.*:)([^:]+)$/.exec(t);
    if (!m || !V4_STRICT.test(m[2])) return null;
    const o = m[2].split('.').map(Number);
    t = `${m[1]}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  if (t.includes(':') && !t.includes('%') && ipaddr.IPv6.isValid(t)) {
    try {
      return ipaddr.IPv6.parse(t);
    } catch {
      return null;
    }
  }
  return null;
}

function v4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

function classifyParsed(a: ipaddr.IPv4 | ipaddr.IPv6): AddressInfo {
  const address = canonical(a);
  const metadata = METADATA_SET.has(address);
  if (a.kind() === 'ipv4') {
    const v4 = a as ipaddr.IPv4;
    return {address, family: 4, range: metadata ? 'metadata' : v4.range(), metadata};
  }
  const v6 = a as ipaddr.IPv6;
  const p = v6.parts;
  const range = v6.range();
  let embedded: AddressInfo | undefined;
  let ourRange: string = range;
  if (range === 'ipv4Mapped' || range === 'rfc6145') {
    embedded = classifyParsed(v4FromParts(p[6], p[7]));
  } else if (range === 'rfc6052') {
    if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 1) ourRange = 'nat64Local';
    else embedded = classifyParsed(v4FromParts(p[6], p[7]));
  } else if (range === '6to4') {
    embedded = classifyParsed(v4FromParts(p[1], p[2]));
  } else if (range === 'unicast' && p.slice(0, 6).every(x => x === 0)) {
    // ::a.b.c.d (IPv4-compatible, deprecated by RFC 4291) - never global.
    ourRange = 'ipv4Compatible';
    embedded = classifyParsed(v4FromParts(p[6], p[7]));
  } else if (range === 'unicast' && !v6.match(GLOBAL_UNICAST_V6)) {
    ourRange = 'nonGlobal';
  }
  const isMeta = metadata || (range === 'ipv4Mapped' && embedded?.metadata === true);
  return {address, family: 6, range: isMeta ? 'metadata' : ourRange, embedded, metadata: isMeta};
}

/** Classify an address given as text; null when it is not a strict IP literal. Never throws. */
export function classifyAddress(text: string): AddressInfo | null {
  const a = parseStrictAddress(text);
  return a ? classifyParsed(a) : null;
}

/** Parse OUTBOUND_ALLOWED_CIDRS entries; throws on an entry that is not a CIDR. */
export function parseCidrList(list: readonly string[]): ParsedCidr[] {
  return list.map(c => {
    try {
      return ipaddr.parseCIDR(c) as ParsedCidr;
    } catch {
      throw new Error(`"${c}" is not a CIDR`);
    }
  });
}

const HARD_DENY_RANGES = new Set(['unspecified', 'multicast', 'broadcast', 'metadata']);

function inCidrs(info: AddressInfo, cidrs: readonly ParsedCidr[]): boolean {
  const candidates = [info.address, ...(info.embedded ? [info.embedded.address] : [])];
  for (const text of candidates) {
    const a = ipaddr.parse(text);
    for (const [net, bits] of cidrs) {
      if (net.kind() === a.kind() && a.match([net, bits] as never)) return true;
    }
  }
  return false;
}

/** Why a classified address is denied, or null when it is a public address. */
function denyReason(info: AddressInfo): string | null {
  if (info.metadata) return 'metadata';
  if (info.family === 4) return info.range === 'unicast' ? null : info.range;
  const e = info.embedded;
  switch (info.range) {
    case 'unicast':
      return null;
    case 'ipv4Mapped':
    case 'rfc6052':
    case '6to4':
      return e && denyReason(e) === null ? null : `${info.range}:${e ? denyReason(e) : 'unknown'}`;
    case 'rfc6145':
    case 'ipv4Compatible':
      return `${info.range}${e ? ':' + (denyReason(e) ?? 'unicast') : ''}`;
    default:
      return info.range;
  }
}

/** The address decision. Never throws. */
export function checkAddress(text: string, policy: AddressPolicy): AddressVerdict {
  const info = classifyAddress(text);
  if (!info) return {allowed: false, info: null, reason: 'not-an-ip-literal', hard: true};
  const reason = denyReason(info);
  if (reason === null) return {allowed: true, info, via: 'public'};
  const hard =
    HARD_DENY_RANGES.has(info.range) ||
    info.metadata ||
    (info.embedded !== undefined && (HARD_DENY_RANGES.has(info.embedded.range) || info.embedded.metadata));
  if (!hard && policy.allowedCidrs.length > 0 && inCidrs(info, policy.allowedCidrs)) {
    return {allowed: true, info, via: 'cidr-exception'};
  }
  return {allowed: false, info, reason, hard};
}
