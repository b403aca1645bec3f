import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {parseStubStatus, renderNginxConf} from '../../../bench/lib/nginx';

const input = {
  prefix: '/tmp/p',
  port: 8443,
  statusPort: 8081,
  upstreamPort: 3000,
  serverCert: '/pki/server.crt',
  serverKey: '/pki/server.key',
  caBundle: '/pki/ca.crt',
  crlFile: '/pki/crls.pem',
  tls13Suites: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  ecdhCurve: 'X25519:P-256:P-384',
  keepAliveRequests: 1000,
  keepAliveTimeoutS: 5,
  maxBodyBytes: 1048576,
  verifyDepth: 2,
};

describe('bench: variant (d) nginx configuration (unit)', () => {
  it('terminates mTLS like the service and keeps every path inside the prefix', () => {
    const conf = renderNginxConf(input);
    for (const line of [
      'master_process off;',
      'pid /tmp/p/nginx.pid;',
      'listen 127.0.0.1:8443 ssl;',
      'ssl_protocols TLSv1.3;',
      'ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;',
      'ssl_ecdh_curve X25519:P-256:P-384;',
      'ssl_verify_client on;',
      'ssl_client_certificate /pki/ca.crt;',
      'ssl_crl /pki/crls.pem;',
      'ssl_verify_depth 2;',
      'server 127.0.0.1:3000;',
      'proxy_http_version 1.1;',
      'proxy_set_header Connection "";',
      'keepalive_requests 1000;',
      'proxy_set_header X-Client-Verify $ssl_client_verify;',
      'listen 127.0.0.1:8081;',
      'stub_status;',
    ])
      assert.ok(conf.includes(line), line);
    // Every file nginx writes is under the prefix (no root, nothing outside the bench's work dir).
    for (const m of conf.matchAll(/^\s*(?:pid|error_log|\w+_temp_path)\s+(\S+?);?(?:\s|$)/gm)) assert.ok(m[1].startsWith('/tmp/p/'), m[0]);
    assert.doesNotMatch(conf, /listen\s+(?!127\.0\.0\.1)/);
  });

  it('is accepted by nginx -t', function () {
    if (spawnSync('nginx', ['-v']).error) throw new Error('nginx not installed: apt-get install -y nginx-light');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-conf-test-'));
    try {
      const conf = path.join(dir, 'nginx.conf');
      // nginx -t opens the certificate files: give it a real (throw-away) key pair and CRL-less config.
      const key = path.join(dir, 'k.pem');
      const crt = path.join(dir, 'c.pem');
      const r = spawnSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          key,
          '-out',
          crt,
          '-subj',
          '/CN=t',
          '-days',
          '1',
        ],
        {timeout: 30_000},
      );
      assert.equal(r.status, 0, String(r.stderr));
      const text = renderNginxConf({...input, prefix: dir, serverCert: crt, serverKey: key, caBundle: crt}).replace(/^\s*ssl_crl .*$/m, '');
      fs.writeFileSync(conf, text);
      const t = spawnSync('nginx', ['-t', '-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], {encoding: 'utf8', timeout: 30_000});
      assert.equal(t.status, 0, t.stderr);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });

  it('parses stub_status', () => {
    assert.deepEqual(parseStubStatus('Active connections: 2 \nserver accepts handled requests\n 17 17 45 \nReading: 0 Writing: 1 Waiting: 1 \n'), {
      accepts: 17,
      requests: 45,
    });
    assert.throws(() => parseStubStatus('<html>'), /unexpected stub_status/);
  });
});
