/**
 * The confined resolver's policy, table-driven over small temp trees: caps (file, total, files,
 * time with an injected clock), `$ref` loops, symlinks that stay inside, sanitised tokens, and the
 * server-URL prefix used for paths.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {serverPathPrefix} from '../../../src/audit/openapi-audit';
import {RefIssueCode, resolveSpecFile, resolveSpecObject, safeToken} from '../../../src/audit/resolver';

const ROOT =
  "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post:\n      requestBody: {content: {application/json: {schema: {$ref: 'parts/a.yaml'}}}}\n      responses: {}\n  /b:\n    post:\n      requestBody: {content: {application/json: {schema: {$ref: 'parts/b.yaml#/B'}}}}\n      responses: {}\n";

describe('audit: resolver policy (unit)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolver-'));
    fs.mkdirSync(path.join(dir, 'parts'));
    fs.writeFileSync(path.join(dir, 'root.yaml'), ROOT);
    fs.writeFileSync(
      path.join(dir, 'parts', 'a.yaml'),
      `# ${'padding '.repeat(150)}\n` + "type: object\nproperties:\n  url: {type: string}\n  again: {$ref: 'b.yaml#/B'}\n",
    );
    fs.writeFileSync(path.join(dir, 'parts', 'b.yaml'), "B:\n  type: object\n  properties:\n    back: {$ref: 'a.yaml'}\n");
  });
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

  const codes = (issues: ReadonlyArray<{code: RefIssueCode}>) => issues.map(i => i.code);

  it('resolves files inside the folder (cycles across files kept as object cycles)', async () => {
    const r = await resolveSpecFile(path.join(dir, 'root.yaml'));
    assert.deepEqual(r.issues, []);
    assert.equal(r.files, 3);
    const doc = r.document as {
      paths: Record<string, {post: {requestBody: {content: Record<string, {schema: {properties: Record<string, unknown>}}>}}}>;
    };
    const a = doc.paths['/a'].post.requestBody.content['application/json'].schema;
    const b = doc.paths['/b'].post.requestBody.content['application/json'].schema;
    assert.equal(a.properties.again, b);
    assert.equal(b.properties.back as unknown, a);
  });

  it('a symlink that stays inside the folder is followed', async () => {
    fs.symlinkSync(path.join(dir, 'parts', 'a.yaml'), path.join(dir, 'alias.yaml'));
    fs.writeFileSync(path.join(dir, 'root.yaml'), ROOT.replace("'parts/a.yaml'", "'alias.yaml'"));
    assert.deepEqual(codes((await resolveSpecFile(path.join(dir, 'root.yaml'))).issues), []);
  });

  const table: Array<[string, Parameters<typeof resolveSpecFile>[1], RefIssueCode]> = [
    ['per-file cap', {maxFileBytes: 900}, 'too-large'],
    ['total cap', {maxTotalBytes: ROOT.length + 1300}, 'limit'],
    ['file count cap', {maxFiles: 2}, 'limit'],
    ['ref count cap', {maxRefs: 1}, 'limit'],
  ];
  for (const [name, policy, code] of table) {
    it(`${name} -> ${code}`, async () => {
      const r = await resolveSpecFile(path.join(dir, 'root.yaml'), policy);
      assert.ok(codes(r.issues).includes(code), JSON.stringify(r.issues));
    });
  }

  it('time bound (injected clock): resolution stops with limit, never hangs', async () => {
    let t = 0;
    const r = await resolveSpecFile(path.join(dir, 'root.yaml'), {timeoutMs: 2500}, () => (t += 1000));
    assert.ok(codes(r.issues).includes('limit'), JSON.stringify(r.issues));
  });

  it('a $ref loop and a missing pointer are unresolvable, not a crash', async () => {
    const r = await resolveSpecObject({a: {$ref: '#/b'}, b: {$ref: '#/a'}, c: {$ref: '#/nope'}, d: {$ref: 'x.yaml'}});
    assert.ok(codes(r.issues).includes('external-disabled'));
    assert.ok(codes(r.issues).includes('pointer'));
  });

  it('an own __proto__ key holding a $ref is replaced as a member, never as a prototype', async () => {
    const r = await resolveSpecObject(JSON.parse('{"a": {"__proto__": {"$ref": "#/b"}}, "b": {"polluted": true}}') as object);
    const a = (r.document as {a: object}).a;
    assert.equal(Object.getPrototypeOf(a), Object.prototype);
    assert.equal((a as {polluted?: boolean}).polluted, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(a, '__proto__')?.value, {polluted: true});
  });

  it('safeToken keeps printable ASCII and bounds the length', () => {
    const rows: Array<[unknown, number, string]> = [
      ['abc', 10, 'abc'],
      ['a\nb\u0000c', 10, 'a?b?c'],
      ['x'.repeat(60), 48, `${'x'.repeat(48)}...`],
      [{}, 20, '<non-string>'],
      [2, 10, '2'],
      ['é', 5, '?'],
    ];
    for (const [v, max, want] of rows) assert.equal(safeToken(v, max), want);
  });

  it('server URL path prefixes (absolute, relative, variables, trailing slash)', () => {
    const rows: Array<[unknown, string]> = [
      [{url: 'http://localhost/v1.45'}, '/v1.45'],
      [{url: 'https://h.example/'}, ''],
      [{url: '/api/v2/'}, '/api/v2'],
      [{url: 'v3'}, '/v3'],
      [{url: 'https://{host}/{base}', variables: {host: {default: 'h'}, base: {default: 'v1.41'}}}, '/v1.41'],
      [{url: '//cdn.example/x'}, '/x'],
      [{}, ''],
      [null, ''],
    ];
    for (const [server, want] of rows) assert.equal(serverPathPrefix(server), want, JSON.stringify(server));
  });
});
