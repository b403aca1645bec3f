import assert from 'node:assert/strict';
import type {AppConfig} from '../../../src/config/config';
import {createLogger} from '../../../src/logging/logger';
import {routeTakesSensitiveInput, UrlParamInterceptor} from '../../../src/guards/url-param.interceptor';

describe('guards: URL-parameter interceptor, pure parts (unit)', () => {
  const interceptor = new UrlParamInterceptor({
    config: {
      http: {maxBodyBytes: 1024} as AppConfig['http'],
      outbound: {allowedHosts: null, allowHttp: false, allowedPorts: [443], allowedCidrs: [], timeoutMs: 1000, maxResponseBytes: 1024},
    },
    logger: createLogger({level: 'silent'}),
  });
  const fetchSpec = {
    parameters: [{name: 'mode', in: 'query', schema: {type: 'string'}}],
    requestBody: {
      'x-parameter-index': 1,
      content: {'application/json': {schema: {type: 'object', properties: {url: {type: 'string'}, tags: {type: 'array', items: {type: 'string'}}}}}},
    },
  };

  it('selects only routes with URL / path / socket / container-id inputs', () => {
    assert.equal(routeTakesSensitiveInput(fetchSpec), true);
    assert.equal(routeTakesSensitiveInput({parameters: [{name: 'path', in: 'path', schema: {type: 'string'}}]}), true);
    assert.equal(routeTakesSensitiveInput({parameters: [{name: 'slug', in: 'path', schema: {type: 'string'}}]}), false);
    assert.equal(
      routeTakesSensitiveInput({requestBody: {content: {'application/json': {schema: {type: 'object', properties: {note: {type: 'string'}}}}}}}),
      false,
    );
  });

  it('applies the static SSRF policy to URL inputs and the guard rules to every string, by argument position', () => {
    const check = (args: unknown[]) => {
      const r = interceptor.checkArguments(args, [
        {name: 'mode', schema: {type: 'string'}},
        {name: '', schema: fetchSpec.requestBody.content['application/json'].schema},
      ]);
      return r ? `${r.code} ${r.ruleId} ${r.location}` : 'ok';
    };
    assert.equal(check(['fast', {url: 'https://public.test/a', tags: ['x']}]), 'ok');
    assert.equal(check(['fast', {url: 'http://public.test/a'}]), 'SSRF_SCHEME_DENIED SSRF-SCHEME body:/url');
    assert.equal(check(['fast', {url: 'https://[::ffff:127.0.0.1]/'}]), 'SSRF_ADDRESS_DENIED SSRF-ADDRESS body:/url');
    assert.equal(
      check(['fast', {url: 'https://public.test/', tags: ['ok', '/var/run/docker.sock']}]),
      'GUARD_DENIED_REFERENCE RS-SOCKET-FILE body:/tags/1',
    );
    assert.equal(check(['../../etc/passwd', {url: 'https://public.test/'}]), 'GUARD_DENIED_REFERENCE PT-ESCAPE param:mode');
    assert.equal(check(['fast', {'/proc/self/environ': 1}]), 'GUARD_DENIED_REFERENCE HP-PROC body:/#0');
  });
});
