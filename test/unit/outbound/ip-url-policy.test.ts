import assert from 'node:assert/strict';
import type {OutboundConfig} from '../../../src/config/config';
import {isAppError} from '../../../src/errors';
import {checkAddress, classifyAddress, parseCidrList} from '../../../src/outbound/ip-policy';
import {checkOutboundUrl, compileOutboundPolicy} from '../../../src/outbound/url-policy';

const NONE = {allowedCidrs: []};

function cfg(over: Partial<OutboundConfig> = {}): OutboundConfig {
  return {allowedHosts: null, allowHttp: false, allowedPorts: [443], allowedCidrs: [], timeoutMs: 1000, maxResponseBytes: 1024, ...over};
}

describe('outbound: ip policy (unit)', () => {
  const denied: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['169.254.170.23', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['192.0.0.192', 'metadata'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['ff02::1', 'multicast'],
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:127.0.0.1', 'ipv4Mapped:loopback'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:10.0.0.1', 'ipv4Mapped:private'],
    ['::ffff:0:7f00:1', 'rfc6145:loopback'],
    ['::127.0.0.1', 'ipv4Compatible:loopback'],
    ['::8.8.8.8', 'ipv4Compatible:unicast'],
    ['64:ff9b::7f00:1', 'rfc6052:loopback'],
    ['64:ff9b::a9fe:a9fe', 'rfc6052:metadata'],
    ['64:ff9b:1::1', 'nat64Local'],
    ['2002:7f00:1::', '6to4:loopback'],
    ['2002:a00:1::', '6to4:private'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['2001:db8::1', 'reserved'],
    ['100::1', 'discard'],
    ['1::1', 'nonGlobal'],
  ];
  for (const [addr, reason] of denied) {
    it(`denies ${addr} (${reason})`, () => {
      const v = checkAddress(addr, NONE);
      assert.equal(v.allowed, false);
      if (!v.allowed) assert.equal(v.reason, reason);
    });
  }

  const allowed = ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:93.184.215.14', '64:ff9b::808:808', '2002:808:808::1'];
  for (const addr of allowed) it(`allows public ${addr}`, () => assert.equal(checkAddress(addr, NONE).allowed, true));

  it('accepts only strict textual forms', () => {
    for (const t of ['0177.0.0.1', '0x7f.0.0.1', '2130706433', '127.1', '127.0.0.01', 'fe80::1%eth0', 'localhost', '', '1.2.3.4.5', '[::1']) {
      assert.equal(classifyAddress(t), null, t);
      assert.equal(checkAddress(t, NONE).allowed, false, t);
    }
    assert.equal(classifyAddress('[::1]')?.address, '::1');
  });

  it('lets an operator CIDR exception re-open a private or loopback address, never a hard denial', () => {
    const policy = {allowedCidrs: parseCidrList(['10.0.0.0/8', '127.0.0.1/32', '169.254.0.0/16', '0.0.0.0/0', '::/0'])};
    assert.deepEqual(checkAddress('10.9.8.7', policy), {allowed: true, info: classifyAddress('10.9.8.7'), via: 'cidr-exception'});
    assert.equal(checkAddress('127.0.0.1', policy).allowed, true);
    assert.equal(checkAddress('::ffff:10.1.1.1', policy).allowed, true);
    for (const hard of ['169.254.169.254', '0.0.0.0', '224.0.0.1', '255.255.255.255', 'fd00:ec2::254', '::ffff:169.254.169.254', '::']) {
      const v = checkAddress(hard, policy);
      assert.equal(v.allowed, false, hard);
      if (!v.allowed) assert.equal(v.hard, true, hard);
    }
  });

  it('rejects an unparseable CIDR at configuration time', () => {
    assert.throws(() => parseCidrList(['10.0.0.0/33']));
    assert.throws(
      () => compileOutboundPolicy(cfg({allowedCidrs: ['nonsense/8']})),
      (e: unknown) => isAppError(e) && e.code === 'CONFIG_INVALID',
    );
  });
});

describe('guards: url policy', () => {
  const strict = compileOutboundPolicy(cfg());
  const withHttp = compileOutboundPolicy(cfg({allowHttp: true, allowedPorts: [443, 8443]}));
  const code = (u: unknown, p = strict) => {
    const v = checkOutboundUrl(u, p);
    return v.ok ? 'ok' : v.code;
  };

  it('allows https to a public name or address and normalises the target', () => {
    const v = checkOutboundUrl('https://Public.Test./a/b?c=1#frag', strict);
    assert.ok(v.ok);
    if (v.ok) {
      assert.equal(v.target.host, 'public.test');
      assert.equal(v.target.port, 443);
      assert.equal(v.target.href, 'https://public.test./a/b?c=1');
    }
    assert.equal(code('https://[2606:4700:4700::1111]/'), 'ok');
  });

  const table: Array<[string, string, ReturnType<typeof compileOutboundPolicy>?]> = [
    ['http://public.test/', 'SSRF_SCHEME_DENIED'],
    ['http://public.test/', 'ok', withHttp],
    ['https://public.test:8443/', 'SSRF_PORT_DENIED'],
    ['https://public.test:8443/', 'ok', withHttp],
    ['https://public.test:0/', 'SSRF_PORT_DENIED', withHttp],
    ['ftp://public.test/', 'SSRF_SCHEME_DENIED'],
    ['https://user:pw@public.test/', 'SSRF_URL_INVALID'],
    ['https://@public.test/', 'SSRF_URL_INVALID'],
    ['https://public.test\\@127.0.0.1/', 'SSRF_URL_INVALID'],
    ['https:/public.test/', 'SSRF_URL_INVALID'],
    ['//public.test/', 'SSRF_URL_INVALID'],
    [' https://public.test/', 'SSRF_URL_INVALID'],
    ['https://public.test/\n', 'SSRF_URL_INVALID'],
    ['https://localhost/', 'SSRF_HOST_DENIED'],
    ['https://LOCALHOST./', 'SSRF_HOST_DENIED'],
    ['https://a.b.localhost/', 'SSRF_HOST_DENIED'],
    ['https://printer.local/', 'SSRF_HOST_DENIED'],
    ['https://db.internal/', 'SSRF_HOST_DENIED'],
    ['https://api.default.svc/', 'SSRF_HOST_DENIED'],
    ['https://intranet/', 'SSRF_HOST_DENIED'],
    ['https://metadata.google.internal/', 'SSRF_HOST_DENIED'],
    ['https://127.0.0.1./', 'SSRF_ADDRESS_DENIED'],
    ['https://0x7f000001/', 'SSRF_ADDRESS_DENIED'],
    ['https://%30x7f.1/', 'SSRF_ADDRESS_DENIED'],
    ['https://[::ffff:7f00:1]/', 'SSRF_ADDRESS_DENIED'],
    ['https://[fe80::1%25eth0]/', 'SSRF_URL_INVALID'],
    ['https://256.256.256.256/', 'SSRF_URL_INVALID'],
    ['https://exa mple.test/', 'SSRF_URL_INVALID'],
    ['https://xn--mnchen-3ya.test/', 'ok'],
    ['https://münchen.test/', 'ok'],
    [42, 'SSRF_URL_INVALID'],
    ['', 'SSRF_URL_INVALID'],
    [`https://public.test/${'a'.repeat(5000)}`, 'SSRF_URL_INVALID'],
  ] as never;
  for (const [u, expected, p] of table) it(`${JSON.stringify(u).slice(0, 60)} -> ${expected}`, () => assert.equal(code(u, p ?? strict), expected));

  it('applies the host allow-list to names and literals', () => {
    const listed = compileOutboundPolicy(cfg({allowedHosts: ['public.test']}));
    assert.equal(code('https://public.test/', listed), 'ok');
    assert.equal(code('https://other.test/', listed), 'SSRF_HOST_DENIED');
    assert.equal(code('https://93.184.215.14/', listed), 'SSRF_HOST_DENIED');
  });
});
