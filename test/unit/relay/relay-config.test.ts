/**
 * The TCP relay's configuration (src/relay/relay-config.ts): validated and frozen, a bad value is a
 * coded error (exit 78), unknown RELAY_* variables refused. Table-driven.
 */
import assert from 'node:assert/strict';
import {ERROR_CODES} from '../../../src/errors';
import {parseRelayConfig} from '../../../src/relay/relay-config';

const OK = {RELAY_LISTEN: '0.0.0.0:8443', RELAY_TARGET: 'hardened-mtls:8443'};

describe('relay: configuration of the TCP relay (unit)', () => {
  it('defaults: bounded connections, idle and connect timeouts; frozen', () => {
    const c = parseRelayConfig(OK);
    assert.deepEqual(c.listen, {host: '0.0.0.0', port: 8443});
    assert.deepEqual(c.target, {host: 'hardened-mtls', port: 8443});
    assert.equal(c.maxConnections, 256);
    assert.equal(c.idleTimeoutMs, 120_000);
    assert.equal(c.connectTimeoutMs, 5000);
    assert.equal(c.logLevel, 'info');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.target));
  });

  it('accepts IPv4 and [IPv6] literals and names; limits within range', () => {
    const c = parseRelayConfig({
      RELAY_LISTEN: '[::]:9000',
      RELAY_TARGET: '10.0.0.5:443',
      RELAY_MAX_CONNECTIONS: '10',
      RELAY_IDLE_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    assert.deepEqual(c.listen, {host: '::', port: 9000});
    assert.deepEqual(c.target, {host: '10.0.0.5', port: 443});
    assert.equal(c.maxConnections, 10);
    assert.deepEqual(parseRelayConfig({...OK, RELAY_TARGET: 'OCSP.Example.org:80'}).target, {host: 'ocsp.example.org', port: 80});
    assert.deepEqual(parseRelayConfig({...OK, RELAY_TARGET: 'cafe.face:80'}).target.host, 'cafe.face');
  });

  const BAD: ReadonlyArray<[string, Record<string, string>, string, string]> = [
    ['listen missing', {RELAY_TARGET: 'a:1'}, 'CONFIG_MISSING', 'RELAY_LISTEN'],
    ['target missing', {RELAY_LISTEN: '0.0.0.0:1'}, 'CONFIG_MISSING', 'RELAY_TARGET'],
    ['target empty (compose ${OCSP_UPSTREAM:-})', {...OK, RELAY_TARGET: ''}, 'CONFIG_MISSING', 'RELAY_TARGET'],
    ['no port', {...OK, RELAY_TARGET: 'hardened-mtls'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['port 0 as target', {...OK, RELAY_TARGET: 'a:0'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['port too high', {...OK, RELAY_TARGET: 'a:65536'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['a URL, not host:port', {...OK, RELAY_TARGET: 'http://a:80'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['userinfo', {...OK, RELAY_TARGET: 'u@a:80'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['short IPv4 form', {...OK, RELAY_TARGET: '127.1:80'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['hex IPv4 form', {...OK, RELAY_TARGET: '0x7f.0.0.1:80'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['this-host target', {...OK, RELAY_TARGET: '0.0.0.0:80'}, 'CONFIG_INVALID', 'RELAY_TARGET'],
    ['listen on a name', {...OK, RELAY_LISTEN: 'localhost:8443'}, 'CONFIG_INVALID', 'RELAY_LISTEN'],
    ['unbracketed IPv6', {...OK, RELAY_LISTEN: ':::8443'}, 'CONFIG_INVALID', 'RELAY_LISTEN'],
    ['zero connections', {...OK, RELAY_MAX_CONNECTIONS: '0'}, 'CONFIG_INVALID', 'RELAY_MAX_CONNECTIONS'],
    ['negative timeout', {...OK, RELAY_IDLE_TIMEOUT_MS: '-1'}, 'CONFIG_INVALID', 'RELAY_IDLE_TIMEOUT_MS'],
    ['timeout with a unit', {...OK, RELAY_CONNECT_TIMEOUT_MS: '5s'}, 'CONFIG_INVALID', 'RELAY_CONNECT_TIMEOUT_MS'],
    ['misspelt limit', {...OK, RELAY_MAX_CONNECTION: '5'}, 'CONFIG_INVALID', 'RELAY_MAX_CONNECTION'],
    ['log level', {...OK, LOG_LEVEL: 'verbose'}, 'CONFIG_INVALID', 'LOG_LEVEL'],
  ];
  for (const [what, env, code, variable] of BAD) {
    it(`refuses: ${what} (${code}, exit 78)`, () => {
      assert.throws(
        () => parseRelayConfig(env),
        (e: {code?: string; details?: {variable?: string}; exitCode?: number}) =>
          e.code === code && e.details?.variable === variable && e.exitCode === 78 && ERROR_CODES[code as 'CONFIG_INVALID'].exit === 78,
      );
    });
  }
});
