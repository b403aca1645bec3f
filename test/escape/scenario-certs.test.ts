/**
 * Scenario certificates, cross-checked with the openssl CLI (an independent implementation): each
 * one is wrong in exactly the way its name says, and otherwise sound (the signatures verify), so
 * an mTLS case tests the property it names and not a broken certificate.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {copyDevPkiScenarios, generateAuthzScenarioCerts, generateScenarioCerts, loadScenarioCerts, SCENARIOS} from '../../src/escape/scenario-certs';
import {openssl, opensslOk} from '../fixtures/openssl';
import {certText} from '../unit/pki/openssl-helper';
import {DevPkiManifest, givenTempDir, givenTestPki, loadDevCa} from '../fixtures/pki';

describe('escape: scenario certificates, openssl cross-check (escape)', function () {
  this.timeout(60000);
  let pki: DevPkiManifest;
  let dir: string;
  const file = (n: string) => path.join(dir, `${n}.crt`);

  before(async () => {
    pki = await givenTestPki();
    dir = path.join(givenTempDir('escape-scen-'), 'scenarios');
    copyDevPkiScenarios(pki, dir);
    await generateScenarioCerts({dir, issuer: await loadDevCa(pki, 'intermediate'), root: await loadDevCa(pki, 'root')});
    await generateAuthzScenarioCerts({dir});
  });

  it("second-ca-operator: the operator's SANs, chaining to the second CA only (openssl verify)", () => {
    const text = certText(file('second-ca-operator'));
    assert.match(text, /URI:spiffe:\/\/hardened-mtls\.test\/client\/valid\b/);
    assert.match(text, /DNS:valid\.client\.hardened-mtls\.test/);
    assert.match(opensslOk(['verify', '-CAfile', path.join(dir, 'second-ca.pem'), '-purpose', 'sslclient', file('second-ca-operator')]), /OK/);
    assert.notEqual(openssl(['verify', '-CAfile', pki.caBundle, file('second-ca-operator')]).status, 0);
    assert.match(openssl(['crl', '-in', path.join(dir, 'second-ca.crl'), '-noout', '-CAfile', path.join(dir, 'second-ca.pem')]).output, /verify OK/i);
  });

  it('writes every documented scenario with its key (keys 0600)', () => {
    const loaded = loadScenarioCerts(dir);
    assert.deepEqual([...loaded.keys()].sort(), SCENARIOS.map(s => s.name).sort());
    for (const s of SCENARIOS) assert.equal(fs.statSync(path.join(dir, `${s.name}.key`)).mode & 0o777, 0o600, s.name);
  });

  it('each key matches its certificate', () => {
    for (const s of SCENARIOS) {
      const fromCert = opensslOk(['x509', '-in', file(s.name), '-noout', '-pubkey']);
      const fromKey = opensslOk(['pkey', '-in', path.join(dir, `${s.name}.key`), '-pubout']);
      assert.equal(fromCert, fromKey, s.name);
    }
  });

  it('issued scenarios chain to the trusted CAs (signature sound; SHA-1 refused at level 1, valid at level 0)', () => {
    const chainArgs = ['verify', '-CAfile', pki.rootCa.cert, '-untrusted', pki.intermediateCa.cert, '-purpose', 'any'];
    for (const n of ['cn-san-mismatch', 'san-prefix', 'no-identity', 'uri-dot-segments']) {
      assert.match(opensslOk([...chainArgs, file(n)]), /OK/, n);
    }
    const sha1 = openssl([...chainArgs, '-auth_level', '1', file('sha1-signed')]);
    assert.notEqual(sha1.status, 0, 'SHA-1 must be refused at security level 1 (the TLS default)');
    assert.match(opensslOk([...chainArgs, '-auth_level', '0', file('sha1-signed')]), /OK/);
    const crit = openssl([...chainArgs, file('unknown-critical-ext')]);
    assert.match(crit.output, /unsupported certificate extension|unhandled critical extension/i);
    assert.notEqual(openssl(['verify', '-CAfile', pki.caBundle, file('self-signed')]).status, 0);
  });

  it('each certificate has the defect its name says', () => {
    assert.match(certText(file('sha1-signed')), /Signature Algorithm: (ecdsa-with-SHA1|sha1WithRSAEncryption)/);
    assert.match(certText(file('unknown-critical-ext')), /1\.2\.3\.4\.5: critical/);
    assert.match(certText(file('codesign-eku')), /Extended Key Usage:\s*\n\s*Code Signing\s*\n/);
    const ku = certText(file('keycertsign-only'));
    assert.match(ku, /Key Usage: critical\s*\n\s*Certificate Sign\s*\n/);
    assert.doesNotMatch(ku, /Digital Signature/);
    assert.match(certText(file('cn-san-mismatch')), /Subject: .*CN ?= ?client\.allowed\.test[\s\S]*DNS:attacker\.test/);
    assert.match(certText(file('san-prefix')), /DNS:client\.allowed\.test\.attacker\.test/);
    const none = certText(file('no-identity'));
    assert.match(none, /CN ?= ?nobody/);
    assert.doesNotMatch(none, /Subject Alternative Name/);
    assert.match(certText(file('uri-dot-segments')), /URI:spiffe:\/\/hardened-mtls\.test\/client\/\.\.\/admin/);
    const ss = certText(file('self-signed'));
    assert.match(ss, /CA:FALSE/);
    assert.equal(/Issuer: (.*)/.exec(ss)?.[1], /Subject: (.*)/.exec(ss)?.[1]);
    assert.equal(fs.readFileSync(file('root-ca'), 'utf8'), fs.readFileSync(pki.rootCa.cert, 'utf8'));
    assert.match(certText(file('ca-true')), /CA:TRUE/);
    assert.match(certText(file('untrusted')), /Issuer: .*Hardened mTLS Dev Intermediate CA/);
    assert.ok(fs.existsSync(path.join(dir, 'untrusted.chain.crt')));
  });
});
