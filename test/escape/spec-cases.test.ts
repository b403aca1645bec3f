/**
 * Spec-driven cases: operations and string injection points found in OpenAPI 3 and Swagger 2
 * documents ($refs resolved, recursive schemas walked), payloads from the catalog, benign values
 * elsewhere; documents served by a target cannot pull local files in through $ref.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import {loadCatalog} from '../../src/escape/catalog';
import {isAppError} from '../../src/errors';
import {buildSpecCases, listOperations, loadSpecDocument, payloadValue, SPEC_PAYLOAD_IDS, stringFields} from '../../src/escape/spec-cases';
import {givenTempDir, givenTestPki} from '../fixtures/pki';

const catalog = loadCatalog().cases;

const oas3 = {
  openapi: '3.0.3',
  info: {title: 't', version: '1'},
  paths: {
    '/items/{id}': {
      parameters: [{name: 'id', in: 'path', required: true, schema: {type: 'string'}}],
      get: {
        parameters: [
          {name: 'q', in: 'query', schema: {type: 'string'}},
          {name: 'page', in: 'query', schema: {type: 'integer'}},
          {name: 'X-Trace', in: 'header', schema: {type: 'string'}},
        ],
        responses: {'200': {description: 'ok'}},
      },
    },
    '/jobs': {
      post: {
        requestBody: {required: true, content: {'application/json': {schema: {$ref: '#/components/schemas/Job'}}}},
        responses: {'200': {description: 'ok'}},
      },
    },
  },
  components: {
    schemas: {
      Job: {
        type: 'object',
        required: ['kind'],
        properties: {
          kind: {type: 'string', enum: ['copy', 'move']},
          options: {$ref: '#/components/schemas/Options'},
          tags: {type: 'array', items: {type: 'string'}},
          parent: {$ref: '#/components/schemas/Job'},
          count: {type: 'integer'},
        },
      },
      Options: {type: 'object', properties: {socketPath: {type: 'string'}}},
    },
  },
};

describe('escape: spec-driven cases (escape)', () => {
  it('extracts a value from each catalog payload kind used for injection', () => {
    for (const id of SPEC_PAYLOAD_IDS) {
      const c = catalog.find(x => x.id === id)!;
      assert.ok(payloadValue(c), id);
    }
    assert.equal(payloadValue(catalog.find(c => c.id === 'HP-038')!), '../../../../proc/self/environ');
    assert.equal(payloadValue(catalog.find(c => c.id === 'HP-020')!), '../../../etc/shadow');
    assert.equal(payloadValue(catalog.find(c => c.id === 'SI-001')!), 'http://127.0.0.1:2375/version');
  });

  it('finds every string parameter and body field (recursive, cycles bounded, enums kept benign)', async () => {
    const file = path.join(givenTempDir('escape-spec-'), 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(oas3));
    const {document} = await loadSpecDocument({kind: 'file', file}, {endpoint: {host: '127.0.0.1', port: 1}, credentials: {}, timeoutMs: 1000});
    const ops = listOperations(document);
    assert.deepEqual(
      ops.map(o => `${o.method} ${o.path}`),
      ['GET /items/{id}', 'POST /jobs'],
    );
    const job = ops[1].body!.schema;
    const fields = stringFields(job).map(f => f.join('/'));
    assert.ok(fields.includes('kind'));
    assert.ok(fields.includes('options/socketPath'));
    assert.ok(fields.includes('tags/0'));
    assert.ok(!fields.some(f => f.startsWith('parent/')), 'a recursive schema is walked once (cycle), not forever');
    assert.ok(!fields.includes('count'));

    const {cases, operations} = buildSpecCases(document, catalog);
    assert.equal(operations, 2);
    const locations = [...new Set(cases.map(c => `${c.operation} ${c.location}`))];
    assert.ok(locations.includes('GET /items/{id} path:id'));
    assert.ok(locations.includes('GET /items/{id} query:q'));
    assert.ok(locations.includes('GET /items/{id} header:X-Trace'));
    assert.ok(!locations.includes('GET /items/{id} query:page'), 'integers are not injection points');
    const q1 = cases.filter(c => c.location === 'query:q').map(c => c.payloadId);
    assert.ok(!q1.includes('SI-001'), 'SSRF targets go only into URL-like fields');
    assert.ok(q1.includes('DK-015') && q1.includes('SM-001'));
    assert.ok(locations.includes('POST /jobs body:/options/socketPath'));
    for (const c of cases) assert.equal(c.expected, 'reject');

    const q = cases.find(c => c.location === 'query:q' && c.payloadId === 'HP-038')!;
    assert.equal(q.request.target, '/items/x?q=..%2F..%2F..%2F..%2Fproc%2Fself%2Fenviron');
    const p = cases.find(c => c.location === 'path:id' && c.payloadId === 'SM-001')!;
    assert.equal(p.request.target, `/items/${encodeURIComponent('http://169.254.169.254/latest/meta-data/iam/security-credentials/')}`);
    const b = cases.find(c => c.location === 'body:/options/socketPath' && c.payloadId === 'RS-008')!;
    assert.deepEqual(JSON.parse(b.request.body!.toString()), {kind: 'copy', options: {socketPath: '/var/run/docker.sock'}});
    assert.deepEqual(b.request.headers, [['Content-Type', 'application/json']]);
    const h = cases.filter(c => c.location === 'header:X-Trace');
    assert.ok(
      h.every(c => !/[\r\n\0]/.test(c.payload)),
      'no control characters in header values',
    );
  });

  it('gives URL-like fields (format uri, url/callback/endpoint names) the SSRF targets too', () => {
    const doc = {
      openapi: '3.0.0',
      paths: {
        '/hook': {
          post: {
            parameters: [
              {name: 'callbackUrl', in: 'query', schema: {type: 'string'}},
              {name: 'note', in: 'query', schema: {type: 'string'}},
            ],
            requestBody: {
              content: {
                'application/json': {schema: {type: 'object', properties: {target: {type: 'string', format: 'uri'}, title: {type: 'string'}}}},
              },
            },
          },
        },
      },
    };
    const {cases} = buildSpecCases(doc, catalog);
    const ids = (loc: string) => cases.filter(c => c.location === loc).map(c => c.payloadId);
    for (const loc of ['query:callbackUrl', 'body:/target']) assert.ok(ids(loc).includes('SI-001') && ids(loc).includes('SU-002'), loc);
    for (const loc of ['query:note', 'body:/title']) assert.ok(!ids(loc).includes('SI-001') && ids(loc).includes('HP-038'), loc);
  });

  it('reads Swagger 2 body and formData parameters', () => {
    const doc = {
      swagger: '2.0',
      paths: {
        '/upload': {
          post: {
            parameters: [
              {name: 'path', in: 'formData', type: 'string', required: true},
              {name: 'n', in: 'formData', type: 'integer'},
            ],
          },
        },
        '/conf': {put: {parameters: [{name: 'body', in: 'body', schema: {type: 'object', properties: {dockerHost: {type: 'string'}}}}]}},
      },
    };
    const {cases} = buildSpecCases(doc, catalog);
    const form = cases.find(c => c.operation === 'POST /upload' && c.payloadId === 'HP-038')!;
    assert.equal(form.location, 'body:/path');
    assert.equal(form.request.body!.toString(), 'path=..%2F..%2F..%2F..%2Fproc%2Fself%2Fenviron');
    assert.ok(cases.some(c => c.operation === 'PUT /conf' && c.location === 'body:/dockerHost'));
  });

  it('a document served by the target cannot pull local files in through $ref (a spec file may)', async () => {
    const pki = await givenTestPki();
    const dir = givenTempDir('escape-spec-ref-');
    const secretFile = path.join(dir, 'secret.json');
    fs.writeFileSync(secretFile, JSON.stringify({type: 'string', enum: ['SECRET-7d1f']}));
    const doc = {openapi: '3.0.3', paths: {'/x': {get: {parameters: [{name: 'q', in: 'query', schema: {$ref: secretFile}}]}}}};
    const server = https.createServer({cert: fs.readFileSync(pki.server.cert), key: fs.readFileSync(pki.server.key)}, (req, res) => {
      res.writeHead(req.url === '/openapi.json' ? 200 : 404, {'content-type': 'application/json'});
      res.end(JSON.stringify(doc));
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const target = {
        endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(pki.caBundle)},
        credentials: {},
        timeoutMs: 5000,
      };
      // A served document may not use external $refs at all: a coded refusal, nothing read.
      await assert.rejects(loadSpecDocument({kind: 'target'}, target), (e: unknown) => {
        assert.ok(isAppError(e) && e.code === 'OPENAPI_SPEC_REFUSED' && e.details.reason === 'external-disabled', String(e));
        assert.ok(!e.message.includes('SECRET-7d1f'));
        return true;
      });
      await assert.rejects(loadSpecDocument({kind: 'target', path: '/missing'}, target), /HTTP 404/);
      const file = path.join(dir, 'openapi.json');
      fs.writeFileSync(file, JSON.stringify(doc));
      const local = await loadSpecDocument({kind: 'file', file}, target);
      assert.ok(JSON.stringify(local.document).includes('SECRET-7d1f'));
    } finally {
      server.closeAllConnections();
      await new Promise(r => server.close(r));
    }
  });

  it('a document that is not OpenAPI is an error', () => {
    assert.throws(() => listOperations({hello: 'world'}), /no paths object/);
  });
});
