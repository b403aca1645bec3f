import assert from 'node:assert/strict';
import {GUARD_RULES} from '../../../src/guards/rules';
import {decodeBodyBytes, GuardVerdict, inspectRequest, inspectValue, RequestInput} from '../../../src/guards/request-policy';

function verdict(input: Partial<RequestInput> & {rawTarget?: string}): GuardVerdict {
  return inspectRequest({rawTarget: input.rawTarget ?? '/ping', headers: input.headers ?? [], body: input.body});
}
function json(text: string): RequestInput['body'] {
  return {contentType: 'application/json', text};
}
function summary(v: GuardVerdict): string {
  return v.ok ? 'ok' : `${v.code} ${v.ruleId} ${v.location}`;
}

describe('guards: request policy (unit)', () => {
  describe('rule catalog (data)', () => {
    it('has unique ids, a description and a rationale for every rule', () => {
      const ids = GUARD_RULES.map(r => r.id);
      assert.equal(new Set(ids).size, ids.length);
      for (const r of GUARD_RULES) {
        assert.ok(r.description.length > 10 && r.rationale.length > 10, r.id);
      }
    });
    it('compiles every segment pattern', () => {
      for (const r of GUARD_RULES) {
        if (r.match.kind === 'segments') for (const s of r.match.segments) assert.doesNotThrow(() => new RegExp(`^(?:${s})$`), r.id);
      }
    });
  });

  describe('denied references (403) with rule and location', () => {
    const cases: Array<[string, Partial<RequestInput>, string]> = [
      ['traversal in the path', {rawTarget: '/static/%2e%2e/%2e%2e/x'}, 'GUARD_DENIED_REFERENCE PT-DOTDOT-TARGET path'],
      ['socket in a query value', {rawTarget: '/ping?sock=/run/podman/podman.sock'}, 'GUARD_DENIED_REFERENCE RS-SOCKET-FILE query:sock'],
      [
        'k8s secret path in a header',
        {headers: [['X-Target', '/api/v1/namespaces/x/secrets']]},
        'GUARD_DENIED_REFERENCE K8-CORE-API header:x-target',
      ],
      [
        'metadata URL in a body',
        {rawTarget: '/echo', body: json('{"cb":"http://[::ffff:a9fe:a9fe]/latest"}')},
        'GUARD_DENIED_REFERENCE MD-METADATA-HOST body:/cb',
      ],
      [
        'metadata name in a header URL',
        {headers: [['Referer', 'http://metadata.google.internal./computeMetadata/v1/']]},
        'GUARD_DENIED_REFERENCE MD-METADATA-HOST header:referer',
      ],
      ['absolute-form target to metadata', {rawTarget: 'http://169.254.169.254/latest'}, 'GUARD_DENIED_REFERENCE MD-METADATA-HOST path'],
      [
        'docker engine keys',
        {rawTarget: '/echo', body: json('{"x":{"HostConfig":{}}}')},
        'GUARD_DENIED_REFERENCE CP-DOCKER-ENGINE-KEYS body:/x/HostConfig',
      ],
      [
        'pod spec host access',
        {rawTarget: '/echo', body: json('{"spec":{"hostPID":true}}')},
        'GUARD_DENIED_REFERENCE CP-K8S-HOST-ACCESS-KEYS body:/spec/hostPID',
      ],
      [
        'unix endpoint scheme',
        {rawTarget: '/echo', body: json('{"h":"unix:///run/user/1000/bus"}')},
        'GUARD_DENIED_REFERENCE RS-ENDPOINT-SCHEME body:/h',
      ],
      ['unsafe key is not echoed', {rawTarget: '/echo', body: json('{"ok":1,"/etc/shadow":"x"}')}, 'GUARD_DENIED_REFERENCE HP-ETC body:/#1'],
      ['unsafe query name is not echoed', {rawTarget: '/ping?a=1&%2Fproc%2Fself=1'}, 'GUARD_DENIED_REFERENCE HP-PROC query:#1'],
      [
        'form body',
        {rawTarget: '/echo', body: {contentType: 'application/x-www-form-urlencoded; charset=utf-8', text: 'a=1&f=%2Fvar%2Flib%2Fkubelet%2Fpods'}},
        'GUARD_DENIED_REFERENCE HP-RUNTIME-STATE body:/f',
      ],
      [
        'text body',
        {rawTarget: '/echo', body: {contentType: 'text/plain', text: 'please read /proc/1/environ'}},
        'GUARD_DENIED_REFERENCE HP-PROC body:',
      ],
      ['fullwidth percent sign', {rawTarget: '/static/%EF%BC%85%32%65%EF%BC%85%32%65/x'}, 'GUARD_DENIED_REFERENCE PT-DOTDOT-TARGET path'],
      ['a denial wins over malformed input', {rawTarget: '/ping?a=%zz&b=/etc/shadow'}, 'GUARD_DENIED_REFERENCE HP-ETC query:b'],
    ];
    for (const [name, input, expected] of cases) it(name, () => assert.equal(summary(verdict(input)), expected));
  });

  describe('malformed input (400) and unreadable bodies (415)', () => {
    const cases: Array<[string, Partial<RequestInput>, string]> = [
      ['bad percent escape in the path', {rawTarget: '/files/a%zzb'}, 'GUARD_MALFORMED_INPUT MF-BAD-ESCAPE path'],
      ['overlong UTF-8 without a denied meaning', {rawTarget: '/files/%c0%c1'}, 'GUARD_MALFORMED_INPUT MF-INVALID-UTF8 path'],
      ['overlong encoding of a letter', {rawTarget: '/files/%c1%81'}, 'GUARD_MALFORMED_INPUT MF-OVERLONG-UTF8 path'],
      ['%u escape in the path', {rawTarget: '/files/%u0041'}, 'GUARD_MALFORMED_INPUT MF-U-ESCAPE path'],
      ['NUL in a query value', {rawTarget: '/ping?q=a%00b'}, 'GUARD_MALFORMED_INPUT MF-NUL query:q'],
      ['encoded line break in the path', {rawTarget: '/files/a%0d%0aSet-Cookie:x'}, 'GUARD_MALFORMED_INPUT MF-CONTROL-CHAR path'],
      ['too deeply encoded', {rawTarget: '/files/%2525252525252525252541'}, 'GUARD_MALFORMED_INPUT MF-TOO-DEEP path'],
      ['relative request target', {rawTarget: 'files/x'}, 'GUARD_MALFORMED_INPUT MF-BAD-TARGET path'],
      [
        'duplicate JSON key',
        {rawTarget: '/echo', body: json('{"url":"https://a.test","url":"http://127.0.0.1"}')},
        'GUARD_MALFORMED_INPUT MF-DUPLICATE-KEY body:/url',
      ],
      [
        '__proto__ key',
        {rawTarget: '/echo', body: json('{"a":{"__proto__":{"admin":true}}}')},
        'GUARD_MALFORMED_INPUT MF-PROTOTYPE-KEY body:/a/__proto__',
      ],
      [
        'constructor key',
        {rawTarget: '/echo', body: json('{"constructor":{"prototype":{}}}')},
        'GUARD_MALFORMED_INPUT MF-PROTOTYPE-KEY body:/constructor',
      ],
      ['JSON syntax', {rawTarget: '/echo', body: json('{"a":')}, 'GUARD_MALFORMED_INPUT MF-JSON-SYNTAX body:/a'],
      [
        'JSON too deep',
        {rawTarget: '/echo', body: json('['.repeat(40) + ']'.repeat(40))},
        'GUARD_MALFORMED_INPUT MF-JSON-TOO-DEEP body:/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0',
      ],
      ['lone surrogate in JSON', {rawTarget: '/echo', body: json('{"a":"\\ud800"}')}, 'GUARD_MALFORMED_INPUT MF-LONE-SURROGATE body:/a'],
      [
        'duplicate form field',
        {rawTarget: '/echo', body: {contentType: 'application/x-www-form-urlencoded', text: 'a=1&a=2'}},
        'GUARD_MALFORMED_INPUT MF-DUPLICATE-KEY body:/a',
      ],
      [
        'prototype form field',
        {rawTarget: '/echo', body: {contentType: 'application/x-www-form-urlencoded', text: 'a[__proto__][x]=1'}},
        'GUARD_MALFORMED_INPUT MF-PROTOTYPE-KEY body:/#0',
      ],
      ['XML body', {rawTarget: '/echo', body: {contentType: 'application/xml', text: '<a/>'}}, 'GUARD_UNSUPPORTED_MEDIA_TYPE BODY-MEDIA-TYPE body:'],
      [
        'latin1 JSON',
        {rawTarget: '/echo', body: {contentType: 'application/json; charset=iso-8859-1', text: '{}'}},
        'GUARD_UNSUPPORTED_MEDIA_TYPE BODY-MEDIA-TYPE body:',
      ],
    ];
    for (const [name, input, expected] of cases) it(name, () => assert.equal(summary(verdict(input)), expected));

    it('refuses compressed and non-UTF-8 body bytes', () => {
      assert.deepEqual(decodeBodyBytes(Buffer.from('{}'), 'application/json', 'gzip'), {
        ok: false,
        code: 'GUARD_UNSUPPORTED_MEDIA_TYPE',
        ruleId: 'BODY-CONTENT-ENCODING',
      });
      assert.deepEqual(decodeBodyBytes(Buffer.from([0x22, 0xff, 0x22]), 'application/json', undefined), {
        ok: false,
        code: 'GUARD_MALFORMED_INPUT',
        ruleId: 'MF-BAD-CHARSET',
      });
      assert.deepEqual(decodeBodyBytes(Buffer.from('{"a":1}'), undefined, 'identity'), {ok: true, text: '{"a":1}'});
    });
  });

  describe('does not over-block', () => {
    const benign: Array<[string, Partial<RequestInput>]> = [
      ['generic versioned API', {rawTarget: '/api/v1/users/42?expand=orders'}],
      ['an image asset', {rawTarget: '/images/logo.png'}],
      ['a static file with dots', {rawTarget: '/static/app.min.js'}],
      ['percent-encoded space and plus', {rawTarget: '/search?q=a+b%20c&sort=-created'}],
      ['UTF-8 path', {rawTarget: '/wiki/%C3%A9t%C3%A9'}],
      [
        'browser headers',
        {
          headers: [
            ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'],
            ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
            ['Accept-Language', 'en-US,en;q=0.5'],
            ['Cookie', 'session=abc123; theme=dark; path=%2Fdocs'],
            ['Host', '127.0.0.1:8443'],
            ['If-None-Match', 'W/"5e-1a2b"'],
          ],
        },
      ],
      [
        'free text with percent signs and ellipses',
        {rawTarget: '/echo', body: json('{"text":"50% off ... see /docs/pricing or https://example.com/containers/blue"}')},
      ],
      [
        'words that name host things',
        {rawTarget: '/echo', body: json('{"q":"proc sys dev etc root run exec pods docker.io kubelet","version":"/v1/items","path":"a/../b"}')},
      ],
      ['public URLs with internal-looking queries', {rawTarget: '/echo', body: json('{"url":"https://public.test/products?ref=127.0.0.1"}')}],
      ['UTF-8 in a header (latin1-decoded by Node)', {headers: [['X-Name', Buffer.from('Zoë', 'utf8').toString('latin1')]]}],
      ['JSON numbers, booleans, nulls, unicode', {rawTarget: '/echo', body: json('{"n":-1.5e3,"b":[true,false,null],"s":"\\u00e9\\ud83d\\ude00"}')}],
      ['empty body', {rawTarget: '/echo', body: json('')}],
      ['asterisk-form', {rawTarget: '*'}],
    ];
    for (const [name, input] of benign) it(name, () => assert.equal(summary(verdict(input)), 'ok'));

    it('hands the parsed body on', () => {
      const v = verdict({rawTarget: '/echo', body: json('{"a":[1,{"b":"c"}]}')});
      assert.deepEqual(v, {ok: true, body: {kind: 'json', value: {a: [1, {b: 'c'}]}}});
      const f = verdict({rawTarget: '/echo', body: {contentType: 'application/x-www-form-urlencoded', text: 'a=1+2&b=%C3%A9'}});
      assert.deepEqual(f, {ok: true, body: {kind: 'form', value: {a: '1 2', b: 'é'}}});
    });
  });

  describe('inspectValue (used by the interceptor on parsed arguments)', () => {
    it('denies references in already-decoded argument values', () => {
      assert.equal(inspectValue('/var/run/docker.sock', 'param')?.ruleId, 'RS-SOCKET-FILE');
      assert.equal(inspectValue('..\\..\\windows', 'param')?.ruleId, 'PT-ESCAPE');
      assert.equal(inspectValue('report.pdf', 'param'), null);
    });
  });
});
