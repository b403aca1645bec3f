/**
 * loadPolicy with real files: a SPIFFE trust domain bound to a bundle file (real CA certificates,
 * fingerprints cross-checked with `openssl x509 -fingerprint -sha256`), relative paths, refusals.
 */
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {loadPolicy} from '../../../src/authz/policy-source';
import {parseConfig} from '../../../src/config/config';
import {generateAuthzScenarioCerts} from '../../../src/escape/scenario-certs';
import {evaluatePolicy, fingerprintKey, PolicyError} from '../../../src/identity/role-policy';
import {givenTempDir, givenTestPki} from '../../fixtures/pki';

function opensslFingerprint(file: string): string {
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', file], {timeout: 10_000}).toString();
  return fingerprintKey(out.trim().split('=')[1]);
}

describe('policy source: files and trust-domain bundles (integration)', function () {
  this.timeout(60_000);
  let dir: string;
  let secondCa: string;
  const id = (cas: string[]) => ({commonNames: [], dns: [], uris: ['spiffe://partner.example/qa'], emails: [], ips: [], caFingerprints: cas});
  const load = (text: string) => {
    fs.writeFileSync(path.join(dir, 'policy.yaml'), text);
    return loadPolicy(parseConfig({NODE_ENV: 'development', MTLS_POLICY_FILE: 'policy.yaml'}, {cwd: dir}));
  };

  before(async () => {
    dir = givenTempDir('hmtls-policy-src-');
    const files = await generateAuthzScenarioCerts({dir: path.join(dir, 'partner')});
    secondCa = files.secondCaCert;
  });

  it('a trust domain bound to a bundle: only the bundle CA vouches for its SPIFFE IDs (fingerprint = openssl)', async () => {
    const fp = opensslFingerprint(secondCa);
    const p = await load(
      'version: 1\nroles:\n  partner: {rules: ["uri:spiffe://partner.example/qa"]}\ntrustDomains:\n  partner.example: {bundle: partner/second-ca.pem}\n',
    );
    assert.deepEqual([...p.roles.get('partner')!.rules[0].issuers!], [fp]);
    assert.equal(evaluatePolicy(p, id([fp]), ['partner']).allow, true);
    const other = evaluatePolicy(p, id(['00'.repeat(32)]), ['partner']);
    assert.equal(!other.allow && other.code, 'AUTHZ_ISSUER_MISMATCH');
  });

  it('an explicit issuer (openssl fingerprint text, with colons) matches the same CA', async () => {
    const text = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', secondCa], {timeout: 10_000})
      .toString()
      .trim()
      .split('=')[1];
    const p = await load(`version: 1\nroles:\n  partner:\n    rules: ['uri:spiffe://partner.example/qa']\n    issuers: ['sha256:${text}']\n`);
    assert.equal(evaluatePolicy(p, id([fingerprintKey(text)]), ['partner']).allow, true);
  });

  it('a bundle holding a leaf (not a CA) is refused', async () => {
    const pki = await givenTestPki();
    fs.copyFileSync(pki.clients.valid.cert, path.join(dir, 'leaf.pem'));
    await assert.rejects(
      load('version: 1\nroles: {}\ntrustDomains:\n  partner.example: {bundle: leaf.pem}\n'),
      (e: unknown) => e instanceof PolicyError && /not a CA certificate/.test(e.message),
    );
  });

  it('a policy file larger than 1 MiB is refused before parsing', async () => {
    await assert.rejects(
      load(`version: 1\nroles: {}\n#${'x'.repeat(1024 * 1024)}\n`),
      (e: unknown) => e instanceof PolicyError && /larger than/.test(e.message),
    );
  });
});
