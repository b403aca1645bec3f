/**
 * The policy file as the process sees it (`node dist/src/index.js`): errors at start-up exit 78
 * with one coded fatal line before listening; SIGHUP and a change of the file reload it, an
 * invalid reload keeps the old policy.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {AuthzDeployment, givenAuthzDeployment} from '../../fixtures/authz';
import {givenClient} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTempDir, givenTestPki} from '../../fixtures/pki';
import {givenService, runServiceExpectingExit, ServiceHandle} from '../../fixtures/service';
import {tlsRequest} from '../../fixtures/tls-client';

describe('authz: policy file, real process (acceptance)', function () {
  this.timeout(120_000);
  let pki: DevPkiManifest;
  let deployment: AuthzDeployment;
  let dir: string;

  before(async () => {
    pki = await givenTestPki();
    deployment = await givenAuthzDeployment(pki);
    dir = givenTempDir('hmtls-policy-');
  });

  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  const refusals: [string, () => Record<string, string>, string][] = [
    ['bad YAML', () => ({MTLS_POLICY_FILE: write('bad.yaml', 'version: 1\nroles: [\n')}), 'AUTHZ_POLICY_INVALID'],
    [
      'an unknown key',
      () => ({MTLS_POLICY_FILE: write('unknown.yaml', 'version: 1\nroles:\n  operator: {rules: [], allow: []}\n  spec-reader: {rules: []}\n')}),
      'AUTHZ_POLICY_INVALID',
    ],
    [
      'an empty rule',
      () => ({MTLS_POLICY_FILE: write('empty.yaml', 'version: 1\nroles:\n  operator: {rules: [""]}\n  spec-reader: {rules: []}\n')}),
      'AUTHZ_POLICY_INVALID',
    ],
    [
      'a role a decorator names but the policy lacks (operator)',
      () => ({MTLS_POLICY_FILE: write('norole.json', '{"version":1,"roles":{"spec-reader":{"rules":[]}}}')}),
      'AUTHZ_POLICY_INVALID',
    ],
    [
      'a malformed issuer fingerprint',
      () => ({
        MTLS_POLICY_FILE: write(
          'issuer.yaml',
          'version: 1\nroles:\n  operator: {rules: ["dns:a.example"], issuers: ["sha256:12"]}\n  spec-reader: {rules: []}\n',
        ),
      }),
      'AUTHZ_POLICY_INVALID',
    ],
    [
      'a trust-domain bundle that does not exist',
      () => ({
        MTLS_POLICY_FILE: write(
          'td.yaml',
          'version: 1\nroles:\n  operator: {rules: []}\n  spec-reader: {rules: []}\ntrustDomains:\n  td.example: {bundle: missing.pem}\n',
        ),
      }),
      'AUTHZ_POLICY_INVALID',
    ],
    ['a missing policy file', () => ({MTLS_POLICY_FILE: path.join(dir, 'nope.yaml')}), 'AUTHZ_POLICY_INVALID'],
    ['MTLS_ROLES with an empty rule', () => ({MTLS_POLICY_FILE: '', MTLS_ROLES: 'operator=dns:a.example,'}), 'CONFIG_INVALID'],
    ['both MTLS_POLICY_FILE and MTLS_ROLES', () => ({MTLS_ROLES: 'operator=dns:a.example'}), 'CONFIG_INVALID'],
    ['CORS_ALLOWED_ORIGINS=*', () => ({CORS_ALLOWED_ORIGINS: '*'}), 'CONFIG_INVALID'],
  ];
  for (const [what, extra, code] of refusals) {
    it(`refuses ${what}: exit 78, one fatal ${code} line, never listens`, async () => {
      const run = await runServiceExpectingExit(deployment.env(extra()));
      const fatal = run.logs.filter(l => l.level === 'fatal');
      assert.equal(run.code, 78, run.stdout.slice(-10).join('\n'));
      assert.equal(fatal.length, 1);
      assert.equal(fatal[0].code, code);
      assert.ok(!run.logs.some(l => l.event === 'listening'));
    });
  }

  describe('reload', () => {
    let service: ServiceHandle;
    let policyFile: string;
    let original: string;
    before(async () => {
      policyFile = path.join(givenTempDir('hmtls-policy-reload-'), 'policy.yaml');
      original = fs.readFileSync(deployment.policyFile, 'utf8');
      fs.writeFileSync(policyFile, original);
      service = await givenService(deployment.env({MTLS_POLICY_FILE: policyFile, TLS_WATCH: 'true'}));
    });
    after(async () => {
      await service?.stop();
    });
    const status = async (who: 'valid' | 'valid2') => {
      const r = await tlsRequest({port: service.port, ...givenClient(pki, who), servername: 'localhost'}, {target: '/openapi.json'});
      return r.outcome === 'response' ? r.status : 0;
    };
    const lines = (event: string) => service.logs.filter(l => l.event === event).length;

    it('SIGHUP with an invalid file keeps the old policy and logs AUTHZ_POLICY_RELOAD_FAILED', async () => {
      assert.equal(await status('valid'), 200);
      const before = lines('authz.policy.reload');
      // Written in place: the watcher may see it too; either way the reload fails.
      fs.writeFileSync(policyFile, 'version: 1\nroles:\n  operator: {rules: ["dns:"]}\n');
      service.signal('SIGHUP');
      await service.waitForLog(l => l.event === 'authz.policy.reload' && service.logs.filter(x => x.event === 'authz.policy.reload').length > before);
      const failed = service.logs.filter(l => l.event === 'authz.policy.reload').at(-1)!;
      assert.equal(failed.code, 'AUTHZ_POLICY_RELOAD_FAILED');
      assert.equal(await status('valid'), 200);
      assert.equal(await status('valid2'), 403);
    });

    it('a change of the file (rename into place) reloads it: the operator role moves to valid2', async () => {
      const tmp = `${policyFile}.new`;
      fs.writeFileSync(tmp, original.replace(/client\/valid'/g, "client/valid2'"));
      fs.renameSync(tmp, policyFile);
      await service.waitForLog(l => l.event === 'authz.policy' && (l.reason === 'file-change' || l.reason === 'sighup'), 10_000);
      assert.equal(await status('valid2'), 200);
      assert.equal(await status('valid'), 403);
    });
  });
});
