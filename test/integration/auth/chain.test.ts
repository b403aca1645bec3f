/**
 * ChainVerifier (pkijs re-verification) on chains made by `openssl ca`.
 */
import assert from 'node:assert/strict';
import {parseCertificate, ParsedClientCertificate} from '../../../src/x509/certificate';
import {buildTrustAnchors, ChainVerdict, ChainVerifier} from '../../../src/auth/chain';
import {isAppError} from '../../../src/errors';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {IssuedCert, OpensslCa} from './support/openssl-pki';

const DAY = 24 * 60 * 60 * 1000;

function outcome(v: ChainVerdict): string {
  return v.ok ? `ok/${v.intermediates}` : v.code;
}

describe('auth: chain re-verification with pkijs (integration)', function () {
  this.timeout(60_000);
  let tmp: string;
  let root: OpensslCa, otherRoot: OpensslCa, edRoot: OpensslCa;
  let i1: OpensslCa, i2: OpensslCa, i3: OpensslCa;
  const leaves: Record<string, IssuedCert> = {};
  const cas: Record<string, OpensslCa> = {};

  const p = (c: IssuedCert | OpensslCa): ParsedClientCertificate => parseCertificate(c instanceof OpensslCa ? c.cert.der : c.der);

  before(async () => {
    tmp = givenTempDir('auth-pki-');
    root = await OpensslCa.createRoot(tmp, 'Chain Root');
    otherRoot = await OpensslCa.createRoot(tmp, 'Other Root');
    edRoot = await OpensslCa.createRoot(tmp, 'Ed Root', {key: 'ed25519'});
    i1 = await root.createIntermediate('Int 1');
    i2 = await i1.createIntermediate('Int 2');
    i3 = await i2.createIntermediate('Int 3');
    cas.pathlen0 = await root.createIntermediate('Pathlen0', {pathlen: 0});
    cas.belowPathlen0 = await cas.pathlen0.createIntermediate('Below Pathlen0');
    cas.expired = await root.createIntermediate('Expired Int', {startDate: new Date(Date.now() - 10 * DAY), endDate: new Date(Date.now() - DAY)});
    cas.future = await root.createIntermediate('Future Int', {startDate: new Date(Date.now() + DAY), endDate: new Date(Date.now() + 10 * DAY)});
    cas.serverOnly = await root.createIntermediate('ServerAuth Int', {eku: 'serverAuth'});
    cas.clientOk = await root.createIntermediate('ClientAuth Int', {eku: 'clientAuth'});
    cas.notCa = await root.createIntermediate('Not A CA', {basicConstraints: 'critical,CA:FALSE', keyUsage: 'critical,digitalSignature,keyCertSign'});
    cas.edInt = await edRoot.createIntermediate('Ed Int', {key: 'ed25519'});

    leaves.direct = await root.issue('direct');
    leaves.viaI1 = await i1.issue('via-i1');
    leaves.viaI3 = await i3.issue('via-i3');
    leaves.other = await otherRoot.issue('other');
    leaves.pathlen = await cas.belowPathlen0.issue('below-pathlen');
    leaves.expiredIssuer = await cas.expired.issue('expired-issuer');
    leaves.futureIssuer = await cas.future.issue('future-issuer');
    leaves.serverOnly = await cas.serverOnly.issue('server-only');
    leaves.clientOk = await cas.clientOk.issue('client-ok');
    leaves.notCa = await cas.notCa.issue('under-non-ca');
    leaves.sha1 = await root.issue('sha1', {md: 'sha1'});
    leaves.critical = await root.issue('critical', {extraExtensions: ['1.3.6.1.4.1.99999.1 = critical,ASN1:NULL']});
    leaves.expiredLeaf = await i1.issue('expired-leaf', {startDate: new Date(Date.now() - 10 * DAY), endDate: new Date(Date.now() - DAY)});
    leaves.ed = await cas.edInt.issue('ed-leaf');
  });

  after(() => removeTempDir(tmp));

  function givenVerifier(trust: OpensslCa[] = [root], maxIntermediates = 2): ChainVerifier {
    return new ChainVerifier(buildTrustAnchors(trust.map(c => c.cert.der)), {maxIntermediates});
  }

  const now = () => new Date();

  describe('verdicts', () => {
    const cases: Array<[string, () => [IssuedCert, (IssuedCert | OpensslCa)[], OpensslCa[]?, number?], string]> = [
      ['leaf issued by the anchor', () => [leaves.direct, []], 'ok/0'],
      ['leaf + intermediate presented', () => [leaves.viaI1, [i1]], 'ok/1'],
      ['leaf + intermediate + anchor presented', () => [leaves.viaI1, [i1, root]], 'ok/1'],
      ['intermediate only in the trust file', () => [leaves.viaI1, [], [root, i1]], 'ok/1'],
      ['Ed25519 root and intermediate', () => [leaves.ed, [cas.edInt], [edRoot]], 'ok/1'],
      ['intermediate EKU allows clientAuth', () => [leaves.clientOk, [cas.clientOk]], 'ok/1'],
      ['expired leaf: chain still verifies (validity has its own code)', () => [leaves.expiredLeaf, [i1]], 'ok/1'],
      ['missing intermediate', () => [leaves.viaI1, []], 'AUTH_CHAIN_INVALID'],
      ['leaf of another root', () => [leaves.other, []], 'AUTH_CHAIN_INVALID'],
      ['leaf of another root presenting that root', () => [leaves.other, [otherRoot]], 'AUTH_CHAIN_INVALID'],
      ['intermediate with wrong issuer order still builds', () => [leaves.viaI3, [i1, i3, i2], [root], 3], 'ok/3'],
      ['3 intermediates, limit 2', () => [leaves.viaI3, [i3, i2, i1]], 'AUTH_CHAIN_TOO_DEEP'],
      ['1 intermediate, limit 0', () => [leaves.viaI1, [i1], [root], 0], 'AUTH_CHAIN_TOO_DEEP'],
      ['more certificates presented than the limit allows', () => [leaves.viaI1, [i1, root], [root], 0], 'AUTH_CHAIN_TOO_DEEP'],
      ['pathLenConstraint 0 exceeded', () => [leaves.pathlen, [cas.belowPathlen0, cas.pathlen0]], 'AUTH_CHAIN_INVALID'],
      ['expired intermediate', () => [leaves.expiredIssuer, [cas.expired]], 'AUTH_CHAIN_INVALID'],
      ['not-yet-valid intermediate', () => [leaves.futureIssuer, [cas.future]], 'AUTH_CHAIN_INVALID'],
      ['intermediate EKU excludes clientAuth', () => [leaves.serverOnly, [cas.serverOnly]], 'AUTH_CHAIN_INVALID'],
      ['issuer is not a CA', () => [leaves.notCa, [cas.notCa]], 'AUTH_CHAIN_INVALID'],
      ['leaf signed with SHA-1', () => [leaves.sha1, []], 'AUTH_CHAIN_INVALID'],
      ['unrecognised critical extension in the leaf', () => [leaves.critical, []], 'AUTH_CHAIN_INVALID'],
    ];
    for (const [name, setup, expected] of cases) {
      it(`${name} -> ${expected}`, async () => {
        const [leaf, chain, trust, max] = setup();
        const v = givenVerifier(trust ?? [root], max ?? 2);
        assert.equal(outcome(await v.verify(p(leaf), chain.map(p), now())), expected);
      });
    }

    it('a tampered leaf signature -> AUTH_CHAIN_INVALID', async () => {
      const der = Buffer.from(leaves.direct.der);
      der[der.length - 1] ^= 0x01;
      const v = givenVerifier();
      assert.equal(outcome(await v.verify(parseCertificate(der), [], now())), 'AUTH_CHAIN_INVALID');
    });

    it('returns the issuer and the anchor of the verified path', async () => {
      const v = givenVerifier();
      const r = await v.verify(p(leaves.viaI1), [p(i1)], now());
      assert.ok(r.ok);
      assert.equal(r.issuer.fingerprint256, i1.cert.x509.fingerprint256);
      assert.equal(r.anchor.fingerprint256, root.cert.x509.fingerprint256);
      assert.equal(r.path.length, 3);
    });
  });

  describe('cache', () => {
    it('validates a (leaf, chain) once and answers repeats from the cache', async () => {
      const v = givenVerifier();
      const leaf = p(leaves.viaI1);
      const chain = [p(i1)];
      for (let i = 0; i < 5; i++) assert.equal(outcome(await v.verify(leaf, chain, now())), 'ok/1');
      assert.deepEqual(v.stats, {validations: 1, cacheHits: 4});
    });

    it('coalesces concurrent validations of the same input', async () => {
      const v = givenVerifier();
      const leaf = p(leaves.viaI1);
      const results = await Promise.all([v.verify(leaf, [p(i1)], now()), v.verify(leaf, [p(i1)], now())]);
      assert.deepEqual(results.map(outcome), ['ok/1', 'ok/1']);
      assert.equal(v.stats.validations, 1);
    });

    it('still judges issuer validity at each call (cache holds only the time-independent part)', async () => {
      const v = givenVerifier();
      const leaf = p(leaves.viaI1);
      assert.equal(outcome(await v.verify(leaf, [p(i1)], now())), 'ok/1');
      assert.equal(outcome(await v.verify(leaf, [p(i1)], new Date(Date.now() + 400 * DAY))), 'AUTH_CHAIN_INVALID');
      assert.equal(v.stats.validations, 1);
    });

    it('a trust reload bumps the epoch and drops cached paths', async () => {
      const v = givenVerifier();
      const leaf = p(leaves.direct);
      assert.equal(outcome(await v.verify(leaf, [], now())), 'ok/0');
      const before = v.trustEpoch;
      v.setTrust(buildTrustAnchors([otherRoot.cert.der]));
      assert.equal(v.trustEpoch, before + 1);
      assert.equal(outcome(await v.verify(leaf, [], now())), 'AUTH_CHAIN_INVALID');
      assert.equal(v.stats.validations, 2);
    });
  });

  describe('buildTrustAnchors', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return isAppError(e) ? e.code : 'non-AppError';
      }
    };
    it('splits self-signed anchors from extra intermediates', () => {
      const t = buildTrustAnchors([root.cert.der, i1.cert.der, root.cert.der]);
      assert.equal(t.anchors.length, 1);
      assert.equal(t.intermediates.length, 1);
    });
    it('refuses a non-CA certificate in the trust file', () =>
      assert.equal(
        codeOf(() => buildTrustAnchors([root.cert.der, leaves.direct.der])),
        'TLS_MATERIAL_UNREADABLE',
      ));
    it('refuses a trust file without a self-signed CA', () =>
      assert.equal(
        codeOf(() => buildTrustAnchors([i1.cert.der])),
        'TLS_MATERIAL_UNREADABLE',
      ));
    it('refuses garbage', () =>
      assert.equal(
        codeOf(() => buildTrustAnchors([Buffer.from('nope')])),
        'TLS_MATERIAL_UNREADABLE',
      ));
  });
});
