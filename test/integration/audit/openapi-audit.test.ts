/**
 * OpenAPI audit over hand-written specs with internal, external and cyclic `$ref`s (written into a
 * temp dir in before()), the pure audit on in-memory documents, and the CLI as a child process.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {isAppError} from '../../../src/errors';
import {auditApplicationSpec, auditOpenApi, auditOpenApiFile, AuditReport, classifyField, resolveOpenApi} from '../../../src/audit/openapi-audit';
import {givenCapturingLogger} from '../guards/support';

const CLI = path.resolve(__dirname, '../../../src/audit/cli.js');

const MAIN_YAML = `
openapi: 3.0.3
info: {title: audited, version: '1'}
security: [{mtls: []}]
paths:
  /ping:
    get:
      security: []
      responses: {'200': {description: ok}}
  /health:
    x-mtls-exempt: true
    get:
      responses: {'200': {description: ok}}
  /fetch:
    post:
      x-outbound-client: true
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/FetchRequest'}
      responses: {'200': {description: ok}}
  /hooks:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: 'schemas/hooks.yaml#/Webhook'}
      responses: {'200': {description: ok}}
  /containers/{id}/exec:
    post:
      parameters:
        - {$ref: '#/components/parameters/ContainerId'}
      responses: {'200': {description: ok}}
  /trees:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Tree'}
      responses: {'200': {description: ok}}
  /folders:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: 'schemas/hooks.yaml#/Folder'}
      responses: {'200': {description: ok}}
  /products/{productId}:
    get:
      parameters:
        - {name: productId, in: path, required: true, schema: {type: string}}
        - {name: q, in: query, schema: {type: string}}
      responses: {'200': {description: ok}}
components:
  parameters:
    ContainerId: {name: containerId, in: query, required: true, schema: {type: string}}
  schemas:
    FetchRequest:
      type: object
      properties:
        url: {type: string, format: uri}
    Tree:
      type: object
      properties:
        label: {type: string}
        children: {type: array, items: {$ref: '#/components/schemas/Tree'}}
        agent: {$ref: '#/components/schemas/Agent'}
    Agent:
      type: object
      properties:
        socketPath: {type: string}
        parent: {$ref: '#/components/schemas/Tree'}
`;

const HOOKS_YAML = `
Webhook:
  type: object
  properties:
    name: {type: string}
    callbackUrl: {type: string, format: uri}
    retry: {$ref: '#/Retry'}
Retry:
  type: object
  properties:
    attempts: {type: integer}
Folder:
  type: object
  properties:
    mountPath: {type: string}
    parent: {$ref: '#/Folder'}
    owner: {$ref: '../main.yaml#/components/schemas/Tree'}
`;

const SWAGGER_JSON = {
  swagger: '2.0',
  info: {title: 'legacy', version: '1'},
  basePath: '/v1.41',
  paths: {
    '/containers/json': {get: {security: [], responses: {'200': {description: 'ok'}}}},
    '/run': {
      post: {
        security: [{mtls: []}],
        parameters: [{name: 'body', in: 'body', schema: {$ref: '#/definitions/RunRequest'}}],
        responses: {'200': {description: 'ok'}},
      },
    },
  },
  definitions: {RunRequest: {type: 'object', properties: {dockerHost: {type: 'string'}, image: {type: 'string'}}}},
};

const CLEAN_JSON = {
  openapi: '3.1.0',
  info: {title: 'clean', version: '1'},
  security: [{mtls: []}],
  paths: {
    '/orders/{orderId}': {
      get: {parameters: [{name: 'orderId', in: 'path', required: true, schema: {type: 'string'}}], responses: {'200': {description: 'ok'}}},
    },
  },
};

function has(r: AuditReport, ruleId: string, method?: string, p?: string, location?: string | RegExp): boolean {
  return r.findings.some(
    f =>
      f.ruleId === ruleId &&
      (method === undefined || f.method === method) &&
      (p === undefined || f.path === p) &&
      (location === undefined || (typeof location === 'string' ? f.location === location : location.test(f.location))),
  );
}

function runCli(args: string[]): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], {timeout: 20_000}, (err, stdout, stderr) => {
      resolve({code: err ? ((err as {code?: number}).code ?? -1) : 0, stdout, stderr});
    });
  });
}

describe('audit: OpenAPI audit (integration)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-audit-'));
    fs.mkdirSync(path.join(dir, 'schemas'));
    fs.writeFileSync(path.join(dir, 'main.yaml'), MAIN_YAML);
    fs.writeFileSync(path.join(dir, 'schemas', 'hooks.yaml'), HOOKS_YAML);
    fs.writeFileSync(path.join(dir, 'swagger.json'), JSON.stringify(SWAGGER_JSON));
    fs.writeFileSync(path.join(dir, 'clean.json'), JSON.stringify(CLEAN_JSON));
    fs.writeFileSync(path.join(dir, 'not-openapi.json'), JSON.stringify({hello: 'world'}));
    fs.writeFileSync(path.join(dir, 'missing-ref.yaml'), MAIN_YAML.replace('schemas/hooks.yaml#/Webhook', 'schemas/nope.yaml#/Webhook'));
  });
  after(() => fs.rmSync(dir, {recursive: true, force: true}));

  it('classifies field names and schemas', () => {
    const cases: Array<[string, unknown, string | null]> = [
      ['url', undefined, 'url'],
      ['callbackURL', undefined, 'url'],
      ['webhook_target', undefined, 'url'],
      ['link', {format: 'uri'}, 'url'],
      ['redirectUri', undefined, 'url'],
      ['hostname', undefined, 'url'],
      ['ghost', undefined, null],
      ['socketPath', undefined, 'socket'],
      ['dockerHost', undefined, 'socket'],
      ['containerId', undefined, 'container-id'],
      ['podName', undefined, 'container-id'],
      ['filePath', undefined, 'host-path'],
      ['mountPath', undefined, 'host-path'],
      ['logDir', undefined, 'host-path'],
      ['hostPath', undefined, 'host-path'],
      ['description', undefined, null],
      ['process', undefined, null],
      ['productId', undefined, null],
    ];
    for (const [name, schema, kind] of cases) assert.equal(classifyField(name, schema), kind, name);
  });

  it('resolves internal, external and cyclic $refs and reports every rule', async () => {
    const r = await auditOpenApiFile(path.join(dir, 'main.yaml'));
    assert.equal(r.format, 'openapi-3');
    assert.equal(r.operations, 8);
    assert.ok(has(r, 'OA-AUTH-EXEMPT', 'GET', '/ping'));
    assert.ok(has(r, 'OA-AUTH-EXEMPT', 'GET', '/health'));
    assert.ok(has(r, 'OA-URL-PARAM-UNGUARDED', 'POST', '/hooks', 'requestBody:application/json#/properties/callbackUrl'), 'external $ref');
    assert.ok(!has(r, 'OA-URL-PARAM-UNGUARDED', 'POST', '/fetch'), 'x-outbound-client marks the URL as guarded');
    assert.ok(has(r, 'OA-CONTAINER-MGMT-PATH', 'POST', '/containers/{id}/exec'));
    assert.ok(has(r, 'OA-CONTAINER-ID-PARAM', 'POST', '/containers/{id}/exec', 'parameter:query:containerId'), 'internal parameter $ref');
    assert.ok(has(r, 'OA-SOCKET-PARAM', 'POST', '/trees', /properties\/agent\/properties\/socketPath$/), 'cyclic schema');
    assert.ok(
      has(r, 'OA-HOST-PATH-PARAM', 'POST', '/folders', 'requestBody:application/json#/properties/mountPath'),
      'cycle inside the external file',
    );
    assert.ok(has(r, 'OA-SOCKET-PARAM', 'POST', '/folders', /owner\/properties\/agent\/properties\/socketPath$/), 'cycle across files');
    assert.ok(!r.findings.some(f => f.path === '/products/{productId}'), 'benign operation has no finding');
    assert.ok(!has(r, 'OA-UNRESOLVED-REF'));
    assert.ok(r.counts.high >= 6);
  });

  it('audits Swagger 2.0 (basePath, in: body parameters, definitions)', async () => {
    const r = await auditOpenApiFile(path.join(dir, 'swagger.json'));
    assert.equal(r.format, 'swagger-2');
    assert.ok(has(r, 'OA-CONTAINER-MGMT-PATH', 'GET', '/v1.41/containers/json'));
    assert.ok(has(r, 'OA-AUTH-EXEMPT', 'GET', '/v1.41/containers/json'));
    assert.ok(has(r, 'OA-SOCKET-PARAM', 'POST', '/v1.41/run', 'parameter:body:body#/properties/dockerHost'));
  });

  it('reports nothing high for a clean spec and OA-NOT-OPENAPI for something else', async () => {
    assert.equal((await auditOpenApiFile(path.join(dir, 'clean.json'))).counts.high, 0);
    const r = await auditOpenApiFile(path.join(dir, 'not-openapi.json'));
    assert.ok(has(r, 'OA-NOT-OPENAPI'));
  });

  it('is pure over in-memory documents with object cycles', () => {
    const tree: Record<string, unknown> = {type: 'object', properties: {}};
    (tree.properties as Record<string, unknown>).self = tree;
    (tree.properties as Record<string, unknown>).webhook = {type: 'string'};
    const doc = {
      openapi: '3.0.0',
      info: {title: 'x', version: '1'},
      security: [{m: []}],
      paths: {'/t': {put: {requestBody: {content: {'application/json': {schema: tree}}}, responses: {}}}},
    };
    const r = auditOpenApi(doc);
    assert.ok(has(r, 'OA-URL-PARAM-UNGUARDED', 'PUT', '/t', 'requestBody:application/json#/properties/webhook'));
    assert.ok(has(r, 'OA-AUTH-UNDECLARED') === false);
    assert.doesNotThrow(() => auditOpenApi(null));
    assert.doesNotThrow(() => auditOpenApi({openapi: '3.0.0', paths: {'/x': {get: null, post: 'nonsense'}}}));
  });

  it('never fetches an http(s) $ref named by the audited document', async () => {
    let connections = 0;
    const server = net.createServer(s => {
      connections++;
      s.destroy();
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const doc = {
        openapi: '3.0.0',
        info: {title: 'x', version: '1'},
        paths: {'/x': {post: {requestBody: {content: {'application/json': {schema: {$ref: `http://127.0.0.1:${port}/s.json`}}}}, responses: {}}}},
      };
      await assert.rejects(resolveOpenApi(doc));
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });

  describe('audit of the application spec at boot', () => {
    const exempt = {openapi: '3.0.0', info: {title: 'app', version: '1'}, paths: {'/ping': {get: {security: [], responses: {}}}}};
    it('enforce: refuses to start on a high finding (OPENAPI_AUDIT_FAILED) with one audit line', async () => {
      const log = givenCapturingLogger();
      await assert.rejects(
        auditApplicationSpec(exempt, 'enforce', log.logger),
        (e: unknown) => isAppError(e) && e.code === 'OPENAPI_AUDIT_FAILED' && e.exitCode === 78,
      );
      assert.equal(log.lines.filter(l => l.event === 'openapi.audit' && l.decision === 'deny').length, 1);
    });
    it('warn: logs and carries on; off: skips', async () => {
      const log = givenCapturingLogger();
      const r = await auditApplicationSpec(exempt, 'warn', log.logger);
      assert.equal(r?.counts.high, 1);
      assert.equal(log.lines.filter(l => l.event === 'openapi.audit' && l.decision === 'warn').length, 1);
      assert.equal(await auditApplicationSpec(exempt, 'off', log.logger), null);
    });
  });

  describe('CLI', () => {
    it('prints text findings and exits 1 on high findings', async () => {
      const r = await runCli([path.join(dir, 'main.yaml')]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /\[HIGH\] OA-AUTH-EXEMPT GET \/ping/);
      assert.match(r.stdout, /high=\d+ medium=\d+/);
    });
    it('prints JSON with --format json', async () => {
      const r = await runCli([path.join(dir, 'swagger.json'), '--format', 'json']);
      assert.equal(r.code, 1);
      const report = JSON.parse(r.stdout) as AuditReport & {source: string};
      assert.equal(report.format, 'swagger-2');
      assert.ok(report.findings.some(f => f.ruleId === 'OA-SOCKET-PARAM'));
    });
    it('exits 0 on a clean spec', async () => {
      const r = await runCli(['--format=json', path.join(dir, 'clean.json')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as AuditReport).counts.high, 0);
    });
    it('exits 2 on usage errors and unresolvable documents', async () => {
      assert.equal((await runCli([])).code, 2);
      assert.equal((await runCli(['--format', 'xml', 'x.json'])).code, 2);
      const missing = await runCli([path.join(dir, 'missing-ref.yaml'), '--format', 'json']);
      assert.equal(missing.code, 1, 'a missing $ref is a finding (the rest is still audited), not a crash');
      assert.ok((JSON.parse(missing.stdout) as AuditReport).findings.some(f => f.ruleId === 'OA-REF-UNRESOLVABLE'));
      const gone = await runCli([path.join(dir, 'no-such-file.yaml')]);
      assert.equal(gone.code, 2);
      assert.match(gone.stderr, /cannot audit .*OPENAPI_SPEC_REFUSED\/not-found/);
    });
  });
});
