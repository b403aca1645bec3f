/**
 * Hot reload with real clients: revoke the valid client in a new CRL (made by `openssl ca
 * -gencrl`), reload by SIGHUP and by rewriting the file, and show the client is refused on a
 * new connection, on a TLS session resumed from before the reload, and on its kept-alive
 * connection, while another client's connection is not dropped mid-request.
 */
import assert from 'node:assert/strict';
import {copyFileSync, renameSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {givenClient, givenMtlsEnv} from '../fixtures/mtls-env';
import {opensslGenCrl} from '../fixtures/openssl-ca';
import {DevPkiManifest, givenTempDir, givenTestPki} from '../fixtures/pki';
import {givenService, ServiceHandle} from '../fixtures/service';
import {HttpResult, tlsRequest, TlsHttpConnection} from '../fixtures/tls-client';

/** A private copy of the PKI whose intermediate CRL the test may rewrite. */
function givenWritableCrl(pki: DevPkiManifest): {crlFile: string; env: Record<string, string>} {
  const dir = givenTempDir('hmtls-reload-');
  const crlFile = path.join(dir, 'intermediate-ca.crl');
  copyFileSync(pki.crls.intermediate, crlFile);
  return {crlFile, env: {TLS_CRL_FILES: `${pki.crls.root},${crlFile}`}};
}

function writeAtomically(file: string, data: Buffer): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

function revokingCrl(pki: DevPkiManifest, ...names: ('valid' | 'revoked' | 'valid2')[]): Buffer {
  return opensslGenCrl({
    caCertFile: pki.intermediateCa.cert,
    caKeyFile: pki.intermediateCa.key,
    revokedCertFiles: names.map(n => pki.clients[n].cert),
  });
}

for (const trigger of ['SIGHUP', 'file rewrite'] as const) {
  describe(`hot reload by ${trigger} (acceptance)`, function () {
    this.timeout(60000);
    let pki: DevPkiManifest;
    let svc: ServiceHandle;
    let crlFile: string;

    before(async () => {
      pki = await givenTestPki();
      const w = givenWritableCrl(pki);
      crlFile = w.crlFile;
      svc = await givenService(givenMtlsEnv(pki, {...w.env, TLS_WATCH: trigger === 'file rewrite' ? 'true' : 'false'}));
    });
    after(async () => {
      await svc?.stop();
    });

    it('cuts the revoked client everywhere and keeps another client mid-request', async () => {
      const valid = givenClient(pki, 'valid');
      const other = givenClient(pki, 'valid2');

      // Before: the valid client works, on a kept-alive connection and via a resumed session.
      const keptAlive = await TlsHttpConnection.open({port: svc.port, ...valid});
      assert.equal(((await keptAlive.request({target: '/whoami'})) as HttpResult).status, 200);
      const first = await tlsRequest({port: svc.port, ...valid}, {target: '/ping'});
      assert.equal((first as HttpResult).status, 200);
      assert.ok(first.session, 'the server issued a TLS session ticket');
      const resumedBefore = await TlsHttpConnection.open({port: svc.port, ...valid, session: first.session});
      assert.equal(resumedBefore.socket.isSessionReused(), true, 'resumption works before the reload');
      assert.equal(((await resumedBefore.request({target: '/ping'}, {keepAlive: false})) as HttpResult).status, 200);
      resumedBefore.close();

      // Another client starts a request and is mid-body when the reload happens.
      const longLived = await TlsHttpConnection.open({port: svc.port, ...other});
      const body = JSON.stringify({note: 'x'.repeat(2000)});
      longLived.write(`POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      longLived.write(body.slice(0, 1000));

      // Reload with a CRL that revokes the valid client.
      const reloadsBefore = svc.logs.filter(l => l.event === 'tls.reload').length;
      writeAtomically(crlFile, revokingCrl(pki, 'revoked', 'valid'));
      if (trigger === 'SIGHUP') svc.signal('SIGHUP');
      await svc.waitForLog(l => l.event === 'tls.reload' && svc.logs.filter(x => x.event === 'tls.reload').length > reloadsBefore);

      // The other client finishes its body on the same connection and gets its answer.
      const pending = longLived.awaitResponse();
      longLived.write(body.slice(1000));
      const done = (await pending) as HttpResult;
      assert.equal(done.outcome, 'response');
      assert.equal(done.status, 200);
      assert.equal(((await longLived.request({target: '/whoami'})) as HttpResult).status, 200, 'still open and still accepted');
      longLived.close();

      // The revoked client: its kept-alive connection was closed by the sweep ...
      const onKept = await keptAlive.request({target: '/whoami'});
      assert.equal(onKept.outcome, 'no-response');
      // ... a new connection gets the gate's coded refusal (never routed) ...
      const fresh = await tlsRequest({port: svc.port, ...valid}, {target: '/whoami'});
      assert.equal(((fresh as HttpResult).json as {error?: {code?: string}} | undefined)?.error?.code, 'AUTH_CERT_REVOKED');
      // ... and so does an attempt to resume the session from before the reload.
      const resumed = await tlsRequest({port: svc.port, ...valid, session: first.session}, {target: '/whoami'});
      assert.equal(((resumed as HttpResult).json as {error?: {code?: string}} | undefined)?.error?.code, 'AUTH_CERT_REVOKED');
      // The gate logged the refusals with the revocation code.
      await svc.waitForLog(l => l.event === 'tls.connection' && l.code === 'AUTH_CERT_REVOKED' && l.serial === pki.clients.valid.serialHex);
    });

    it('keeps serving with the last good state when the new CRL is garbage, with a coded error', async () => {
      writeAtomically(crlFile, Buffer.from('-----BEGIN X509 CRL-----\nZ2FyYmFnZQ==\n-----END X509 CRL-----\n'));
      if (trigger === 'SIGHUP') svc.signal('SIGHUP');
      await svc.waitForLog(l => l.code === 'CRL_RELOAD_FAILED');
      // Still serving the still-valid client, still refusing the revoked one.
      assert.equal(((await tlsRequest({port: svc.port, ...givenClient(pki, 'valid2')}, {target: '/ping'})) as HttpResult).status, 200);
      assert.equal(
        (
          ((await tlsRequest({port: svc.port, ...givenClient(pki, 'valid')}, {target: '/ping'})) as HttpResult).json as
            {error?: {code?: string}} | undefined
        )?.error?.code,
        'AUTH_CERT_REVOKED',
      );
      assert.equal(svc.child.exitCode, null, 'the process stays up');
    });
  });
}
