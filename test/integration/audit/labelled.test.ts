/**
 * Issue 16 items 4-9 over the project's own real-shaped fixtures (test/fixtures/openapi) and
 * in-memory documents: server URL prefixes, unanchored route shapes, multi-signal decisions with
 * a confidence, webhooks/callbacks, `swagger: 2.0` unquoted, OAS 3.2 `query`, optional auth,
 * undefined schemes, the depth finding, PathOnHost / remote / fromSrc, and JSON via JSON.parse.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {auditOpenApi, AuditReport, classifyField} from '../../../src/audit/openapi-audit';
import {parseSpecText, resolveSpecFile} from '../../../src/audit/resolver';
import {classifyRoute, docSignals} from '../../../src/audit/routes';
import {LABELLED_DIR, LabelledScore, scoreLabelledFixtures} from '../../../bench/lib/labelled-openapi';

const fx = (n: string) => path.join(LABELLED_DIR, n);
const has = (r: AuditReport, ruleId: string, method?: string, p?: string, loc?: RegExp) =>
  r.findings.some(
    f =>
      f.ruleId === ruleId &&
      (method === undefined || f.method === method) &&
      (p === undefined || f.path === p) &&
      (loc === undefined || loc.test(f.location)),
  );

describe('audit: labelled real-shaped fixtures (integration)', function () {
  this.timeout(60_000);
  let s: LabelledScore;
  before(async () => {
    s = await scoreLabelledFixtures();
  });

  it('container-management routes: precision and recall >= 0.95 over the labelled set', () => {
    assert.ok(s.containerMgmt.tp >= 40, `enough positives (${s.containerMgmt.tp})`);
    assert.ok(s.containerMgmt.precision >= 0.95, `precision ${s.containerMgmt.precision}: ${s.containerMgmt.errors.join('; ')}`);
    assert.ok(s.containerMgmt.recall >= 0.95, `recall ${s.containerMgmt.recall}: ${s.containerMgmt.errors.join('; ')}`);
  });

  it('URL inputs (remote, fromSrc, webhook url, format uri, sourceUrl): found, PathOnHost is not one', () => {
    assert.ok(s.urlInput.recall >= 0.95, s.urlInput.errors.join('; '));
    assert.ok(s.urlInput.precision >= 0.95, s.urlInput.errors.join('; '));
    const d = s.reports['docker-engine-swagger2.yaml'];
    assert.ok(has(d, 'OA-URL-PARAM-UNGUARDED', 'POST', '/v1.45/build', /:remote$/));
    assert.ok(has(d, 'OA-URL-PARAM-UNGUARDED', 'POST', '/v1.45/images/create', /:fromSrc$/));
    assert.ok(has(d, 'OA-HOST-PATH-PARAM', 'POST', '/v1.45/containers/create', /PathOnHost$/));
    assert.ok(!d.findings.some(f => f.ruleId === 'OA-URL-PARAM-UNGUARDED' && /PathOnHost/.test(f.location)));
  });

  it('OpenAPI 3 servers[].url path prefixes are applied: all 12 engine routes of the OAS 3 form are flagged under /v1.45', () => {
    const r = s.reports['docker-engine-oas3.json'];
    const flagged = r.findings.filter(f => f.ruleId === 'OA-CONTAINER-MGMT-PATH');
    assert.equal(flagged.length, 12, flagged.map(f => `${f.method} ${f.path}`).join(', '));
    assert.ok(flagged.every(f => f.path!.startsWith('/v1.45/')));
  });

  it('unanchored shapes: libpod, other version prefixes, build, commit, DELETE images, plugin upgrade, service update, network connect, watch, /logs/{logpath}', () => {
    const d = s.reports['docker-engine-swagger2.yaml'];
    for (const [m, p] of [
      ['POST', '/build'],
      ['POST', '/commit'],
      ['DELETE', '/images/{name}'],
      ['POST', '/plugins/{name}/upgrade'],
      ['POST', '/services/{id}/update'],
      ['POST', '/networks/{id}/connect'],
    ]) {
      assert.ok(has(d, 'OA-CONTAINER-MGMT-PATH', m, `/v1.45${p}`), `${m} ${p}`);
    }
    const lp = s.reports['libpod.yaml'];
    assert.ok(has(lp, 'OA-CONTAINER-MGMT-PATH', 'POST', '/v5.0.0/libpod/containers/{name}/exec'));
    const k = s.reports['kubernetes.yaml'];
    assert.ok(has(k, 'OA-CONTAINER-MGMT-PATH', 'GET', '/api/v1/watch/secrets'));
    assert.ok(has(k, 'OA-CONTAINER-MGMT-PATH', 'GET', '/api/v1/watch/namespaces/{namespace}/secrets'));
    assert.ok(has(s.reports['kubelet.yaml'], 'OA-CONTAINER-MGMT-PATH', 'GET', '/logs/{logpath}'));
  });

  it('benign look-alikes get no container-management finding: /events, /apis, /v2/keys, shipping /containers/{id}, photo /images/{id}/tag, /run/{id}', () => {
    for (const f of ['code-hosting.yaml', 'shipping.yaml', 'photos.yaml', 'ordinary-app.yaml']) {
      const hits = s.reports[f].findings.filter(x => x.ruleId === 'OA-CONTAINER-MGMT-PATH');
      assert.deepEqual(
        hits.map(x => `${x.method} ${x.path}`),
        [],
        f,
      );
    }
  });

  it('decides from several signals and gives a confidence', () => {
    const none = docSignals({text: 'Acme', servers: []});
    const docker = docSignals({text: 'Docker Engine API', servers: ['http://localhost/v1.45']});
    const base = {method: 'GET', paramNames: [], pathParamKinds: [], tags: []};
    assert.equal(classifyRoute({...base, path: '/containers/{id}'}, none), null, 'weak shape alone');
    const weakDocker = classifyRoute({...base, path: '/v1.45/containers/{id}'}, docker);
    assert.equal(weakDocker?.confidence, 'high');
    assert.ok(weakDocker?.signals.includes('doc:title') && weakDocker.signals.includes('doc:server'));
    const strong = classifyRoute({...base, method: 'POST', path: '/proxy/containers/{id}/exec'}, none);
    assert.equal(strong?.confidence, 'high', 'a strong shape under any prefix');
    const medium = classifyRoute({...base, method: 'POST', path: '/build', paramNames: ['dockerfile']}, none);
    assert.equal(medium?.confidence, 'medium', 'medium shape + one parameter signal');
    assert.equal(classifyRoute({...base, method: 'POST', path: '/build'}, none), null);
    assert.equal(classifyRoute({...base, path: '/users/{u}/events'}, docker), null, 'weak shapes only after version-like prefixes');
    const finding = s.reports['kubernetes.yaml'].findings.find(f => f.ruleId === 'OA-CONTAINER-MGMT-PATH');
    assert.ok(finding?.confidence === 'high' || finding?.confidence === 'medium');
  });

  it('OAS 3.1 webhooks-only is OpenAPI; webhooks and callbacks are examined; a callback URL from the body is SSRF', () => {
    const w = s.reports['oas31-webhooks-only.yaml'];
    assert.equal(w.format, 'openapi-3');
    assert.ok(!has(w, 'OA-NOT-OPENAPI'));
    assert.equal(w.operations, 1);
    assert.ok(has(w, 'OA-OUTBOUND-CALL', 'POST', 'webhook:orderPlaced'));
    const c = s.reports['callbacks.yaml'];
    assert.ok(has(c, 'OA-CALLBACK-FROM-REQUEST', 'POST', '/subscriptions', /^callback:onEvent$/));
    assert.ok(has(c, 'OA-HOST-PATH-PARAM', 'POST', 'callback:onEvent'), 'callback operations are walked');
  });

  it('unquoted `swagger: 2.0`, OAS 3.2 `query`, `security: [{}]` optional, undefined scheme names', () => {
    assert.equal(s.reports['docker-engine-swagger2.yaml'].format, 'swagger-2');
    const q = s.reports['oas32-security.yaml'];
    assert.ok(has(q, 'OA-URL-PARAM-UNGUARDED', 'QUERY', '/search', /endpoint$/));
    assert.ok(has(q, 'OA-AUTH-OPTIONAL', 'GET', '/public-or-not'));
    assert.ok(has(q, 'OA-SECURITY-SCHEME-UNDEFINED', 'GET', '/typo'));
    assert.ok(!has(q, 'OA-SECURITY-SCHEME-UNDEFINED', 'GET', '/public-or-not'));
  });

  it('a schema deeper than the walk bound is reported (OA-SCHEMA-DEPTH), fields above it still audited', () => {
    let deep: Record<string, unknown> = {type: 'object', properties: {leafUrl: {type: 'string'}}};
    for (let i = 0; i < 80; i++) deep = {type: 'object', properties: {[`n${i}`]: deep}};
    (deep.properties as Record<string, unknown>).callbackUrl = {type: 'string'};
    const doc = {
      openapi: '3.0.3',
      info: {title: 'x', version: '1'},
      security: [{m: []}],
      components: {securitySchemes: {m: {type: 'mutualTLS'}}},
      paths: {'/d': {post: {requestBody: {content: {'application/json': {schema: deep}}}, responses: {}}}},
    };
    const r = auditOpenApi(doc);
    assert.ok(has(r, 'OA-SCHEMA-DEPTH', 'POST', '/d'));
    assert.ok(has(r, 'OA-URL-PARAM-UNGUARDED', 'POST', '/d', /callbackUrl$/));
  });

  it('classifies PathOnHost as a host path, remote and fromSrc as URLs', () => {
    assert.equal(classifyField('PathOnHost', {type: 'string'}), 'host-path');
    assert.equal(classifyField('remote', {type: 'string'}), 'url');
    assert.equal(classifyField('remote', {type: 'boolean'}), null);
    assert.equal(classifyField('fromSrc', {type: 'string'}), 'url');
    assert.equal(classifyField('logpath'), 'host-path');
  });

  it('JSON specs go through JSON.parse (a duplicate key YAML would refuse is accepted), YAML through yaml', async () => {
    assert.deepEqual(parseSpecText('{"a": 1, "a": 2}', 'x.json'), {a: 2});
    assert.throws(() => parseSpecText('a: 1\na: 2\n', 'x.yaml'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-json-'));
    try {
      const file = path.join(dir, 'spec.json');
      fs.writeFileSync(
        file,
        '{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"responses": {}}}, "/a": {"put": {"responses": {}}}}}',
      );
      const r = await resolveSpecFile(file);
      assert.deepEqual(Object.keys((r.document as {paths: Record<string, Record<string, unknown>>}).paths['/a']), ['put']);
      assert.equal((await resolveSpecFile(fx('docker-engine-oas3.json'))).issues.length, 0);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});
