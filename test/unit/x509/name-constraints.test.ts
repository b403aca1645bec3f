/**
 * src/x509/name.ts and name-constraints.ts, table-driven on hand-made DER (the conformance table
 * in test/integration/auth/rfc5280-conformance.test.ts compares whole chains with openssl).
 */
import assert from 'node:assert/strict';
import {derOid, derSequence, derTlv} from '../../../src/x509/der-writer';
import {canonicalName, namesMatch} from '../../../src/x509/name';
import {checkNameConstraints, ConstrainedNames, parseNameConstraints, PathCertificate, uriHost} from '../../../src/x509/name-constraints';

const UTF8 = 0x0c;
const PRINTABLE = 0x13;
const IA5 = 0x16;
const BMP = 0x1e;

function atv(oid: string, tag: number, value: string): Buffer {
  const bytes = tag === BMP ? Buffer.from(value, 'utf16le').swap16() : Buffer.from(value, tag === UTF8 ? 'utf8' : 'latin1');
  return derSequence(derOid(oid), derTlv(tag, bytes));
}
const rdn = (...atvs: Buffer[]) => derTlv(0x31, ...atvs);
const dn = (...rdns: Buffer[]) => derSequence(...rdns);
const O = (v: string, tag = UTF8) => rdn(atv('2.5.4.10', tag, v));
const CN = (v: string, tag = UTF8) => rdn(atv('2.5.4.3', tag, v));

describe('x509: names, RFC 5280 §7.1 and name constraints (unit)', () => {
  const rows: Array<[string, Buffer, Buffer, boolean]> = [
    ['PrintableString vs UTF8String, same text', dn(O('Example'), CN('CA', PRINTABLE)), dn(O('Example'), CN('CA')), true],
    ['case folded', dn(CN('Example CA', PRINTABLE)), dn(CN('eXAMPLE ca')), true],
    ['inner whitespace runs folded, outer removed', dn(CN('Example CA')), dn(CN('  Example    CA ')), true],
    ['BMPString vs UTF8String', dn(CN('Zürich', BMP)), dn(CN('zürich')), true],
    ['different value', dn(CN('Example CA')), dn(CN('Example CB')), false],
    ['different attribute type', dn(O('Example')), dn(CN('Example')), false],
    ['RDN order matters', dn(O('A'), CN('B')), dn(CN('B'), O('A')), false],
    [
      'multi-valued RDN is a set',
      dn(rdn(atv('2.5.4.10', UTF8, 'A'), atv('2.5.4.3', UTF8, 'B'))),
      dn(rdn(atv('2.5.4.3', UTF8, 'b'), atv('2.5.4.10', PRINTABLE, 'a'))),
      true,
    ],
    ['a prefix is not the same name', dn(O('A')), dn(O('A'), CN('B')), false],
  ];
  for (const [name, a, b, same] of rows) {
    it(`${name} -> ${same ? 'same' : 'different'}`, () => {
      assert.equal(namesMatch(a, b), same);
      assert.equal(canonicalName(a) === canonicalName(b), same);
    });
  }

  it("a malformed Name throws the caller's code", () => {
    assert.throws(() => canonicalName(Buffer.from('3003310100', 'hex'), 'CRL_INVALID'), {code: 'CRL_INVALID'});
    assert.throws(() => canonicalName(dn(rdn(atv('2.5.4.3', UTF8, 'x')), Buffer.from([0x00]))), {code: 'AUTH_CERT_MALFORMED'});
  });
});

// --- name constraints ------------------------------------------------------------------------

const gs = (base: Buffer) => derSequence(base);
const dnsName = (s: string) => derTlv(0x82, Buffer.from(s, 'latin1'));
const email = (s: string) => derTlv(0x81, Buffer.from(s, 'latin1'));
const uri = (s: string) => derTlv(0x86, Buffer.from(s, 'latin1'));
const ipRange = (addr: number[], mask: number[]) => derTlv(0x87, Buffer.from([...addr, ...mask]));
const dirName = (name: Buffer) => derTlv(0xa4, name);
const nc = (o: {permitted?: Buffer[]; excluded?: Buffer[]}) =>
  parseNameConstraints(
    derSequence(...(o.permitted ? [derTlv(0xa0, ...o.permitted.map(gs))] : []), ...(o.excluded ? [derTlv(0xa1, ...o.excluded.map(gs))] : [])),
  );

function names(o: Partial<ConstrainedNames> & {subject?: Buffer}): ConstrainedNames {
  return {
    subjectDer: o.subject ?? dn(),
    dns: o.dns ?? [],
    emails: o.emails ?? [],
    uris: o.uris ?? [],
    ipBytes: o.ipBytes ?? [],
    directoryNames: o.directoryNames ?? [],
    otherForms: o.otherForms ?? [],
  };
}
const leaf = (n: ConstrainedNames): PathCertificate => ({subject: 'CN=leaf', selfIssued: false, nameConstraints: null, constrainedNames: n});
const ca = (subject: string, constraints: ReturnType<typeof nc> | null, selfIssued = false, subjectDer = dn(CN(subject))): PathCertificate => ({
  subject: `CN=${subject}`,
  selfIssued,
  nameConstraints: constraints,
  constrainedNames: names({subject: subjectDer}),
});
const root = ca('root', null);

describe('x509 name constraints, RFC 5280 §4.2.1.10 / §6.1 (unit)', () => {
  const rows: Array<[string, PathCertificate[], boolean]> = [
    ['dNSName below a permitted host', [leaf(names({dns: ['a.example.com']})), ca('i', nc({permitted: [dnsName('example.com')]})), root], true],
    ['dNSName equal to a permitted host', [leaf(names({dns: ['EXAMPLE.com']})), ca('i', nc({permitted: [dnsName('example.com')]})), root], true],
    ['dNSName look-alike suffix', [leaf(names({dns: ['badexample.com']})), ca('i', nc({permitted: [dnsName('example.com')]})), root], false],
    [
      'dNSName ".example.com" excludes the apex',
      [leaf(names({dns: ['example.com']})), ca('i', nc({permitted: [dnsName('.example.com')]})), root],
      false,
    ],
    ['dNSName empty base permits everything', [leaf(names({dns: ['x.y']})), ca('i', nc({permitted: [dnsName('')]})), root], true],
    ['dNSName excluded', [leaf(names({dns: ['x.bad.com']})), ca('i', nc({excluded: [dnsName('bad.com')]})), root], false],
    [
      'a form without constraints is free',
      [leaf(names({dns: ['anything.org'], uris: ['spiffe://td/x']})), ca('i', nc({permitted: [email('example.com')]})), root],
      true,
    ],
    ['rfc822 mailbox at the host', [leaf(names({emails: ['a@example.com']})), ca('i', nc({permitted: [email('example.com')]})), root], true],
    [
      'rfc822 mailbox below the host (not a host match)',
      [leaf(names({emails: ['a@mail.example.com']})), ca('i', nc({permitted: [email('example.com')]})), root],
      false,
    ],
    [
      'rfc822 ".example.com" covers mail.example.com',
      [leaf(names({emails: ['a@mail.example.com']})), ca('i', nc({permitted: [email('.example.com')]})), root],
      true,
    ],
    [
      'rfc822 one mailbox, local part case-sensitive',
      [leaf(names({emails: ['Alice@example.com']})), ca('i', nc({permitted: [email('alice@example.com')]})), root],
      false,
    ],
    [
      'rfc822 emailAddress in the subject is checked',
      [leaf(names({subject: dn(rdn(atv('1.2.840.113549.1.9.1', IA5, 'a@evil.com')))})), ca('i', nc({permitted: [email('example.com')]})), root],
      false,
    ],
    [
      'URI host permitted',
      [leaf(names({uris: ['https://user@svc.example.com:8443/p']})), ca('i', nc({permitted: [uri('.example.com')]})), root],
      true,
    ],
    ['URI without a host cannot be checked', [leaf(names({uris: ['urn:uuid:1234']})), ca('i', nc({permitted: [uri('.example.com')]})), root], false],
    [
      'iPAddress inside',
      [leaf(names({ipBytes: [Buffer.from([10, 1, 2, 3])]})), ca('i', nc({permitted: [ipRange([10, 0, 0, 0], [255, 0, 0, 0])]})), root],
      true,
    ],
    [
      'iPAddress other family never matches',
      [leaf(names({ipBytes: [Buffer.alloc(16)]})), ca('i', nc({permitted: [ipRange([0, 0, 0, 0], [0, 0, 0, 0])]})), root],
      false,
    ],
    [
      'directoryName subject inside (§7.1 comparison)',
      [leaf(names({subject: dn(O('good', PRINTABLE), CN('x'))})), ca('i', nc({permitted: [dirName(dn(O('Good')))]})), root],
      true,
    ],
    [
      'directoryName SAN outside',
      [leaf(names({subject: dn(O('Good'), CN('x')), directoryNames: [dn(O('Evil'))]})), ca('i', nc({permitted: [dirName(dn(O('Good')))]})), root],
      false,
    ],
    [
      'empty subject is not checked',
      [leaf(names({dns: ['a.example.com']})), ca('i', nc({permitted: [dirName(dn(O('Good'))), dnsName('example.com')]})), root],
      true,
    ],
    [
      'permitted intersect: a name in the union only',
      [leaf(names({dns: ['x.b.com']})), ca('i2', nc({permitted: [dnsName('b.com')]})), ca('i1', nc({permitted: [dnsName('a.com')]})), root],
      false,
    ],
    [
      'self-issued intermediate exempt',
      [leaf(names({subject: dn(O('Good'), CN('x'))})), ca('i', null, true), ca('i', nc({permitted: [dirName(dn(O('Good')))]})), root],
      true,
    ],
    [
      'a constrained otherName SAN cannot be checked',
      [
        leaf(names({otherForms: ['otherName']})),
        ca('i', nc({permitted: [derTlv(0xa0, derOid('1.2.3'), derTlv(0xa0, derTlv(UTF8, Buffer.from('x'))))]})),
        root,
      ],
      false,
    ],
    [
      "the anchor's own constraints apply (as OpenSSL)",
      [leaf(names({dns: ['x.evil.com']})), ca('i', null), ca('root', nc({excluded: [dnsName('evil.com')]}))],
      false,
    ],
  ];
  for (const [name, path, ok] of rows) {
    it(`${name} -> ${ok ? 'valid' : 'violation'}`, () => {
      const v = checkNameConstraints(path);
      if (ok) assert.equal(v, undefined);
      else assert.ok(typeof v === 'string' && v.length > 0);
    });
  }

  it('minimum/maximum in a subtree makes the path invalid; a malformed extension is AUTH_CERT_MALFORMED', () => {
    const ranged = parseNameConstraints(derSequence(derTlv(0xa0, derSequence(dnsName('a.com'), derTlv(0x81, Buffer.from([1]))))));
    assert.match(checkNameConstraints([leaf(names({dns: ['a.com']})), ca('i', ranged), root]) ?? '', /minimum or maximum/);
    assert.throws(() => parseNameConstraints(derSequence()), {code: 'AUTH_CERT_MALFORMED'});
    assert.throws(() => parseNameConstraints(derSequence(derTlv(0xa0))), {code: 'AUTH_CERT_MALFORMED'});
    assert.throws(() => parseNameConstraints(derSequence(derTlv(0xa0, derSequence(derTlv(0x87, Buffer.from([10, 0, 0, 0])))))), {
      code: 'AUTH_CERT_MALFORMED',
    });
  });

  it('uriHost reads the authority host only', () => {
    assert.equal(uriHost('https://u:p@Host.Example:443/x?y#z'), 'Host.Example');
    assert.equal(uriHost('spiffe://td.example/ns/a'), 'td.example');
    assert.equal(uriHost('https://[2001:db8::1]:8443/'), '2001:db8::1');
    assert.equal(uriHost('mailto:a@b'), undefined);
    assert.equal(uriHost('file:///etc/passwd'), undefined);
  });
});
