/**
 * URL policy for outbound requests (SSRF), the static half: everything that can be decided from
 * the URL text alone. The address half (every resolved address) is ip-policy.ts, applied by the
 * outbound client at connect time.
 *
 * Parsing is WHATWG URL (the parser undici itself uses), so the guard and the client cannot
 * disagree on the host. Before parsing, the raw text must look like `scheme://…` and contain no
 * whitespace, control character or backslash: WHATWG would silently strip tabs/newlines and leading
 * spaces and read `\` as `/`, which is how authority-confusion payloads (`http://a\@b`, `http:\\x`,
 * `http:127.0.0.1`, `//x`, `localhost:8080`) smuggle a different host past other parsers.
 *
 * What WHATWG already does for us, and what remains here:
 * - decimal/octal/hex/short IPv4 (`2130706433`, `0177.1`, `0x7f.1`, `127.1`) and IDNA/fullwidth
 *   digits (`１２７.０.０.１`, `①②⑦.⓪.⓪.①`, `127。0。0。1`) become a dotted quad; out-of-range forms
 *   (`425.510.425.510`, `7147006462`) fail to parse => SSRF_URL_INVALID;
 * - percent-escapes in the host are decoded (`%31%32%37.0.0.1`); a decoded `/` fails to parse;
 * - a host whose last label is numeric is an IPv4 or a failure, so a *name* never ends in a number.
 * Remaining here: the scheme allow-list (non-special schemes are not IPv4-canonicalised by WHATWG,
 * they are simply refused), userinfo, IPv6 literals (classified by ip-policy, including mapped /
 * NAT64 / 6to4 forms), the trailing dot (`localhost.`), local/metadata names and suffixes,
 * single-label names (resolved through search domains to internal services), the host allow-list
 * and ports.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {OutboundConfig} from '../config/config';
import {AppError, ErrorCode} from '../errors';
import {AddressInfo, ParsedCidr, checkAddress, parseCidrList} from './ip-policy';
import {METADATA_HOST_NAMES} from './metadata';

export interface OutboundPolicy {
  readonly cfg: OutboundConfig;
  readonly cidrs: readonly ParsedCidr[];
}

/** Validate and pre-parse the outbound configuration. Throws AppError CONFIG_INVALID. */
export function compileOutboundPolicy(cfg: OutboundConfig): OutboundPolicy {
  try {
    return {cfg, cidrs: parseCidrList(cfg.allowedCidrs)};
  } catch (e) {
    throw new AppError('CONFIG_INVALID', `OUTBOUND_ALLOWED_CIDRS: ${(e as Error).message}`, {variable: 'OUTBOUND_ALLOWED_CIDRS'});
  }
}

export interface CheckedUrl {
  readonly url: URL;
  /** The URL without its fragment (what is requested). */
  readonly href: string;
  readonly scheme: 'http' | 'https';
  /** Lower case, without IPv6 brackets and without a trailing dot. */
  readonly host: string;
  readonly hostKind: 'ip' | 'name';
  readonly port: number;
  /** For IP literals: the address decision's classification. */
  readonly address?: AddressInfo;
}

export type UrlVerdict = {readonly ok: true; readonly target: CheckedUrl} | {readonly ok: false; readonly code: ErrorCode; readonly reason: string};

export const DENIED_HOST_NAMES: readonly string[] = [
  'localhost',
  'localhost.localdomain',
  'localdomain',
  'ip6-localhost',
  'ip6-loopback',
  'broadcasthost',
  ...METADATA_HOST_NAMES,
];

/** Special-use and cluster-internal suffixes (RFC 6761/6762/8375, Kubernetes, cloud-internal). */
export const DENIED_HOST_SUFFIXES: readonly string[] = [
  '.localhost',
  '.local',
  '.internal',
  '.localdomain',
  '.home.arpa',
  '.svc',
  '.in-addr.arpa',
  '.ip6.arpa',
  '.onion',
];

const MAX_URL_LENGTH = 4096;
// eslint-disable-next-line no-control-regex
const FORBIDDEN_RAW = /[\u0000-\u0020\u007f\\]/;
const SCHEME_PREFIX = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;
const HOST_NAME_CHARS = /^[a-z0-9._-]+$/;

function deny(code: ErrorCode, reason: string): UrlVerdict {
  return {ok: false, code, reason};
}

/** The host-name half of the policy (also used for each redirect hop and by the audit). */
export function checkHostName(hostIn: string, policy: OutboundPolicy): {ok: true; host: string} | {ok: false; code: ErrorCode; reason: string} {
  const host = hostIn.toLowerCase().replace(/\.$/, '');
  if (host === '' || host.length > 253 || !HOST_NAME_CHARS.test(host) || host.includes('..')) {
    return {ok: false, code: 'SSRF_HOST_DENIED', reason: 'invalid-host-name'};
  }
  if (DENIED_HOST_NAMES.includes(host)) return {ok: false, code: 'SSRF_HOST_DENIED', reason: 'denied-name'};
  for (const suffix of DENIED_HOST_SUFFIXES) {
    if (host.endsWith(suffix)) return {ok: false, code: 'SSRF_HOST_DENIED', reason: `denied-suffix:${suffix}`};
  }
  if (!host.includes('.')) return {ok: false, code: 'SSRF_HOST_DENIED', reason: 'single-label'};
  if (policy.cfg.allowedHosts !== null && !policy.cfg.allowedHosts.includes(host)) {
    return {ok: false, code: 'SSRF_HOST_DENIED', reason: 'not-in-allow-list'};
  }
  return {ok: true, host};
}

/** Static URL decision. Never throws. */
export function checkOutboundUrl(input: unknown, policy: OutboundPolicy): UrlVerdict {
  if (typeof input !== 'string' || input.length === 0) return deny('SSRF_URL_INVALID', 'not-a-string');
  if (input.length > MAX_URL_LENGTH) return deny('SSRF_URL_INVALID', 'too-long');
  if (FORBIDDEN_RAW.test(input)) return deny('SSRF_URL_INVALID', 'whitespace-control-or-backslash');
  const m = SCHEME_PREFIX.exec(input);
  if (!m) return deny('SSRF_URL_INVALID', 'not-absolute-scheme-url');
  const scheme = m[1].toLowerCase();
  if (scheme !== 'https' && !(scheme === 'http' && policy.cfg.allowHttp)) return deny('SSRF_SCHEME_DENIED', `scheme:${scheme}`);

  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return deny('SSRF_URL_INVALID', 'unparseable');
  }
  // Defence in depth: WHATWG and our prefix check must agree on the scheme.
  if (url.protocol !== `${scheme}:`) return deny('SSRF_URL_INVALID', 'scheme-mismatch');
  if (url.username !== '' || url.password !== '') return deny('SSRF_URL_INVALID', 'userinfo');
  // A raw '@' before the path is userinfo syntax even when WHATWG ends up with an empty username.
  const authority = input.slice(m[0].length).split(/[/?#]/, 1)[0];
  if (authority.includes('@')) return deny('SSRF_URL_INVALID', 'userinfo');

  const rawHost = url.hostname;
  if (rawHost === '') return deny('SSRF_URL_INVALID', 'empty-host');

  let host: string;
  let hostKind: 'ip' | 'name';
  let address: AddressInfo | undefined;
  const literal = rawHost.startsWith('[') ? rawHost.slice(1, -1) : /^\d+\.\d+\.\d+\.\d+$/.test(rawHost) ? rawHost : null;
  if (literal !== null) {
    const v = checkAddress(literal, {allowedCidrs: policy.cidrs});
    if (!v.allowed) return deny('SSRF_ADDRESS_DENIED', `address:${v.reason}`);
    host = v.info.address;
    hostKind = 'ip';
    address = v.info;
    if (policy.cfg.allowedHosts !== null && !policy.cfg.allowedHosts.includes(host)) {
      return deny('SSRF_HOST_DENIED', 'not-in-allow-list');
    }
  } else {
    const h = checkHostName(rawHost, policy);
    if (!h.ok) return deny(h.code, h.reason);
    host = h.host;
    hostKind = 'name';
  }

  const defaultPort = scheme === 'https' ? 443 : 80;
  const port = url.port === '' ? defaultPort : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return deny('SSRF_PORT_DENIED', 'port-out-of-range');
  if (port !== defaultPort && !policy.cfg.allowedPorts.includes(port)) return deny('SSRF_PORT_DENIED', `port:${port}`);

  url.hash = '';
  return {ok: true, target: {url, href: url.href, scheme: scheme as 'http' | 'https', host, hostKind, port, address}};
}
