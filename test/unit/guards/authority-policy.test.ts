/**
 * Authority and forwarding policy (pure, table-driven): Host / absolute-form target / SNI against
 * the server names; forwarding headers from untrusted and trusted peers; RFC 7239 forms.
 */
import assert from 'node:assert/strict';
import {
  AuthorityPolicy,
  AuthorityRequest,
  checkRequestAuthority,
  namesFromSubjectAltName,
  parseAuthority,
} from '../../../src/guards/authority-policy';
import {parseCidrList} from '../../../src/outbound/ip-policy';

const POLICY: AuthorityPolicy = {
  serverNames: ['localhost', '127.0.0.1', '::1', 'api.example.com', '*.svc.example'],
  trustedProxies: parseCidrList(['127.0.0.2/32', '::1/128']),
};
const req = (o: Partial<AuthorityRequest>): AuthorityRequest => ({
  host: 'localhost:8443',
  url: '/whoami',
  sni: 'localhost',
  peer: '127.0.0.1',
  headers: {},
  ...o,
});
const fromProxy = (headers: Record<string, string>): AuthorityRequest => req({peer: '127.0.0.2', headers});
const fromClient = (headers: Record<string, string>): AuthorityRequest => req({headers});

type Row = [string, AuthorityRequest, string | 'ok'];

const ROWS: Row[] = [
  // --- Host: benign controls
  ['right Host with port', req({}), 'ok'],
  ['right Host without port', req({host: 'localhost'}), 'ok'],
  ['Host in upper case', req({host: 'LocalHost:8443', sni: 'localhost'}), 'ok'],
  ['IPv4 literal Host the certificate names', req({host: '127.0.0.1:8443', sni: undefined}), 'ok'],
  ['IPv6 literal Host the certificate names (::1)', req({host: '[::1]:8443', sni: undefined}), 'ok'],
  ['IPv6 literal Host, long form of ::1', req({host: '[0:0:0:0:0:0:0:1]:8443', sni: undefined}), 'ok'],
  ['wildcard name, one label', req({host: 'a.svc.example', sni: 'a.svc.example'}), 'ok'],
  ['HTTP/1.0 without Host', req({host: undefined}), 'ok'],
  ['absolute-form target naming the server', req({url: 'https://localhost:8443/whoami'}), 'ok'],
  ['IP-literal Host with a DNS SNI (SNI cannot carry an IP)', req({host: '127.0.0.1:8443', sni: 'localhost'}), 'ok'],
  // --- Host: refusals
  ['metadata IP Host', req({host: '169.254.169.254', sni: undefined}), 'GUARD_HOST_NOT_ALLOWED'],
  ['another name', req({host: 'evil.test'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['decimal IPv4 (2130706433)', req({host: '2130706433'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['hex IPv4 (0x7f000001)', req({host: '0x7f000001'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['octal IPv4 (0177.0.0.1)', req({host: '0177.0.0.1'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['short IPv4 (127.1)', req({host: '127.1'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['trailing dot', req({host: 'localhost.'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['userinfo', req({host: 'user@localhost'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['bad port', req({host: 'localhost:99999'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['empty port', req({host: 'localhost:'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['IPv6 not named (fe80::1)', req({host: '[fe80::1]', sni: undefined}), 'GUARD_HOST_NOT_ALLOWED'],
  ['IPv6 with a zone', req({host: '[fe80::1%25eth0]', sni: undefined}), 'GUARD_HOST_NOT_ALLOWED'],
  ['IPv4-mapped IPv6 metadata', req({host: '[::ffff:169.254.169.254]', sni: undefined}), 'GUARD_HOST_NOT_ALLOWED'],
  ['wildcard does not match two labels', req({host: 'a.b.svc.example', sni: 'a.b.svc.example'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['wildcard does not match the bare domain', req({host: 'svc.example', sni: 'svc.example'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['percent-encoded Host', req({host: 'local%68ost'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['absolute-form target naming metadata', req({url: 'https://169.254.169.254/latest/meta-data/'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['absolute-form target with http scheme', req({url: 'http://localhost/whoami'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['absolute-form target naming another allowed name than Host', req({url: 'https://api.example.com/whoami'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['SNI disagrees with Host (domain fronting)', req({host: 'api.example.com', sni: 'localhost'}), 'GUARD_HOST_NOT_ALLOWED'],
  // --- forwarding headers from a client that is not a trusted proxy
  ['X-Forwarded-Host from a client', fromClient({'x-forwarded-host': '169.254.169.254'}), 'GUARD_FORWARDED_UNTRUSTED'],
  ['Forwarded from a client', fromClient({forwarded: 'host=169.254.169.254'}), 'GUARD_FORWARDED_UNTRUSTED'],
  ['benign-looking X-Forwarded-For from a client', fromClient({'x-forwarded-for': '8.8.8.8'}), 'GUARD_FORWARDED_UNTRUSTED'],
  ['X-Real-IP from a client', fromClient({'x-real-ip': '8.8.8.8'}), 'GUARD_FORWARDED_UNTRUSTED'],
  ['X-Original-URL from a client', fromClient({'x-original-url': '/admin'}), 'GUARD_FORWARDED_UNTRUSTED'],
  ['X-Rewrite-URL from a client', fromClient({'x-rewrite-url': '/admin'}), 'GUARD_FORWARDED_UNTRUSTED'],
  ['True-Client-IP from a client', fromClient({'true-client-ip': '8.8.8.8'}), 'GUARD_FORWARDED_UNTRUSTED'],
  // --- from a trusted proxy: benign
  ['trusted proxy: well-formed Forwarded', fromProxy({forwarded: 'for=8.8.8.8;proto=https;host=localhost'}), 'ok'],
  ['trusted proxy: Forwarded with quoted IPv6 and port', fromProxy({forwarded: 'for="[2606:4700::1111]:4711";proto=https'}), 'ok'],
  ['trusted proxy: Forwarded with two elements', fromProxy({forwarded: 'for=8.8.8.8, for=1.1.1.1;by=_proxy1'}), 'ok'],
  ['trusted proxy: Forwarded obfuscated node and unknown', fromProxy({forwarded: 'for=_hidden;by=unknown'}), 'ok'],
  ['trusted proxy: quoted host with port', fromProxy({forwarded: 'host="localhost:8443"'}), 'ok'],
  ['trusted proxy: X-Forwarded-For public list', fromProxy({'x-forwarded-for': '8.8.8.8, 1.1.1.1'}), 'ok'],
  [
    'trusted proxy: X-Forwarded-Proto/Port/Host',
    fromProxy({'x-forwarded-proto': 'https', 'x-forwarded-port': '443', 'x-forwarded-host': 'api.example.com'}),
    'ok',
  ],
  [
    'trusted IPv6 proxy (::1), documentation address (non-public)',
    req({peer: '::1', headers: {'x-real-ip': '2001:db8::1'}}),
    'GUARD_FORWARDED_ADDRESS_DENIED',
  ],
  ['trusted IPv6 proxy (::1), public address', req({peer: '::1', headers: {'x-real-ip': '2606:4700::1111'}}), 'ok'],
  // --- from a trusted proxy: refusals
  ['trusted proxy: Forwarded host=metadata', fromProxy({forwarded: 'host=169.254.169.254'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: Forwarded host=another name', fromProxy({forwarded: 'host=evil.test'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['trusted proxy: Forwarded for=loopback', fromProxy({forwarded: 'for=127.0.0.1'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: Forwarded for=private', fromProxy({forwarded: 'for=10.0.0.5'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: Forwarded by=link-local', fromProxy({forwarded: 'by=169.254.1.1'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: Forwarded for=quoted IPv6 loopback', fromProxy({forwarded: 'for="[::1]"'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: Forwarded for=IPv4-mapped metadata', fromProxy({forwarded: 'for="[::ffff:169.254.169.254]"'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: Forwarded unquoted IPv6', fromProxy({forwarded: 'for=[2001:db8::1]'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded decimal address', fromProxy({forwarded: 'for=2852039166'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded hex address', fromProxy({forwarded: 'for=0xa9fea9fe'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded octal address', fromProxy({forwarded: 'for=0251.0376.0251.0376'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded unterminated quote', fromProxy({forwarded: 'for="8.8.8.8'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded unknown parameter', fromProxy({forwarded: 'secret=1'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded duplicate parameter', fromProxy({forwarded: 'for=8.8.8.8;for=1.0.0.1'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: Forwarded proto=gopher', fromProxy({forwarded: 'proto=gopher'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: X-Forwarded-For loopback', fromProxy({'x-forwarded-for': '8.8.8.8, 127.0.0.1'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: X-Forwarded-For short form', fromProxy({'x-forwarded-for': '127.1'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: X-Forwarded-For empty element', fromProxy({'x-forwarded-for': '8.8.8.8,,'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: X-Real-IP metadata', fromProxy({'x-real-ip': '169.254.169.254'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: X-Forwarded-Host metadata', fromProxy({'x-forwarded-host': '169.254.169.254'}), 'GUARD_FORWARDED_ADDRESS_DENIED'],
  ['trusted proxy: X-Forwarded-Host another name', fromProxy({'x-forwarded-host': 'evil.test'}), 'GUARD_HOST_NOT_ALLOWED'],
  ['trusted proxy: X-Forwarded-Proto junk', fromProxy({'x-forwarded-proto': 'https://evil'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: X-Original-URL with a host', fromProxy({'x-original-url': '//evil.test/x'}), 'GUARD_FORWARDED_INVALID'],
  ['trusted proxy: X-Rewrite-URL absolute URL', fromProxy({'x-rewrite-url': 'http://169.254.169.254/'}), 'GUARD_FORWARDED_INVALID'],
];

describe('guards: authority policy, table-driven (unit)', () => {
  for (const [name, r, expected] of ROWS) {
    it(`${name} -> ${expected}`, () => {
      const v = checkRequestAuthority(r, POLICY);
      assert.equal(v.ok ? 'ok' : v.code, expected, JSON.stringify(v));
    });
  }

  it('parseAuthority: canonical IPv6, lower case, ports', () => {
    assert.deepEqual(parseAuthority('[0:0:0:0:0:0:0:1]:8443'), {host: '::1', ip: true, port: 8443});
    assert.deepEqual(parseAuthority('LOCALHOST'), {host: 'localhost', ip: false, port: undefined});
    assert.equal(parseAuthority('[::1'), null);
    assert.equal(parseAuthority('::1'), null);
  });

  it('server names from a certificate subjectAltName (DNS and IP SANs only, canonical)', () => {
    assert.deepEqual(
      namesFromSubjectAltName('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://x/y, email:a@b.c, DNS:*.svc.example'),
      ['localhost', '127.0.0.1', '::1', '*.svc.example'],
    );
    assert.deepEqual(namesFromSubjectAltName(undefined), []);
  });
});

describe('guards: authority policy source (SERVER_NAMES default follows the certificate in force)', () => {
  it('recomputes the names when a reload replaces the server certificate; SERVER_NAMES overrides', async () => {
    const {X509Certificate} = await import('node:crypto');
    const fs = await import('node:fs');
    const {givenTestPki} = await import('../../fixtures/pki');
    const {authorityPolicySource} = await import('../../../src/guards/authority.middleware');
    const {createLogger} = await import('../../../src/logging/logger');
    const pki = await givenTestPki();
    const server = new X509Certificate(fs.readFileSync(pki.server.cert));
    const other = new X509Certificate(fs.readFileSync(pki.clients.valid.cert));
    let current = server;
    const logger = createLogger({level: 'silent'});
    const source = authorityPolicySource({config: {serverNames: {names: null}, proxy: {trustedProxies: []}}, serverCert: () => current, logger});
    assert.deepEqual(source().serverNames, ['localhost', '127.0.0.1', '::1']);
    current = other; // a reload installed another certificate
    assert.deepEqual(source().serverNames, ['valid.client.hardened-mtls.test']);
    const fixed = authorityPolicySource({
      config: {serverNames: {names: ['API.example.com', '0:0:0:0:0:0:0:1']}, proxy: {trustedProxies: ['127.0.0.2/32']}},
      serverCert: () => current,
      logger,
    });
    assert.deepEqual(fixed().serverNames, ['api.example.com', '::1']);
    assert.equal(fixed().trustedProxies.length, 1);
  });
});
