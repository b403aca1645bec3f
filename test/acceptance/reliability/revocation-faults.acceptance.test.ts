/**
 * Revocation (and TLS material) faults while traffic flows: the CRL file is deleted, emptied,
 * truncated, replaced by garbage, by a stale CRL, by a CRL from the future, by one signed by
 * another key with the same issuer name, rolled back to an older CRL, or replaced by another
 * issuer's CRL; the server key and the CA bundle are broken. Each fault is applied to the files
 * of the running service and a reload is requested (SIGHUP) while four clients keep sending
 * requests: two for a valid client (keep-alive and new connections), one for another valid
 * client, one for the revoked client.
 *
 * Every fault must: log its coded error (CRL_RELOAD_FAILED / TLS_RELOAD_FAILED with the cause),
 * keep the last good state, keep the process up, give no client a 5xx, let every request of the
 * valid clients succeed, and keep refusing the revoked client. A good CRL afterwards is installed.
 */
import assert from 'node:assert/strict';
import {readFileSync, unlinkSync} from 'node:fs';
import {Load, LoadRecord, tally} from '../../fixtures/load';
import {givenClient, givenMtlsEnv} from '../../fixtures/mtls-env';
import {opensslGenCrl} from '../../fixtures/openssl-ca';
import {createCrl, DevPkiManifest, givenTestIntermediateCa, givenTestPki} from '../../fixtures/pki';
import {Cell, recordSection} from '../../fixtures/reliability-report';
import {givenService, ServiceHandle} from '../../fixtures/service';
import {fatalLines, givenWritablePki, isServed, logMark, seededBytes, stderrLines, waitForLogAfter, WritablePki, writeAtomically} from './helpers';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface Fault {
  name: string;
  apply: () => void | Promise<void>;
  code: 'CRL_RELOAD_FAILED' | 'TLS_RELOAD_FAILED';
  cause: string;
}

const VALID_GROUPS = ['valid', 'valid2'] as const;

describe('reliability: revocation and TLS material faults under traffic (acceptance)', function () {
  this.timeout(240_000);
  let pki: DevPkiManifest;
  let files: WritablePki;
  let svc: ServiceHandle;
  let load: Load;
  const rows: Cell[][] = [];
  let faultsTried = 0;

  before(async () => {
    pki = await givenTestPki();
    files = givenWritablePki(pki);
    svc = await givenService(givenMtlsEnv(pki, {...files.env, TLS_WATCH: 'false'}));
    const as = (name: 'valid' | 'valid2' | 'revoked') => ({port: svc.port, ...givenClient(pki, name)});
    load = Load.start([
      {group: 'valid', tls: as('valid'), mode: 'keep-alive', request: () => ({target: '/whoami'})},
      {group: 'valid', tls: as('valid'), mode: 'new-connection', request: () => ({target: '/ping'})},
      {
        group: 'valid2',
        tls: as('valid2'),
        mode: 'keep-alive',
        request: n =>
          n % 2 ? {target: '/ping'} : {method: 'POST', target: '/echo', headers: [['Content-Type', 'application/json']], body: JSON.stringify({n})},
      },
      {group: 'revoked', tls: as('revoked'), mode: 'new-connection', request: () => ({target: '/whoami'})},
    ]);
    await load.progress([...VALID_GROUPS, 'revoked'], 5);
  });

  after(async () => {
    await load?.stop();
    const code = await svc?.stop();
    if (!load) return;
    const valid = VALID_GROUPS.flatMap(g => load.of(g));
    const revoked = load.of('revoked');
    recordSection({
      id: 'revocation-faults',
      title: 'Revocation and TLS material faults while traffic flows',
      claim:
        'Each fault is written to the files of the running service and a reload is requested (SIGHUP) while four clients send requests in a loop. The reload is refused with a coded error, the last good state stays in force, valid clients keep succeeding and the revoked client stays refused.',
      source: 'test/acceptance/reliability/revocation-faults.acceptance.test.ts',
      figures: {
        cases: faultsTried,
        requests: load.total.requests,
        failures:
          valid.filter(r => r.kind !== 'response' || r.status !== 200).length +
          revoked.filter(r => r.kind === 'response').length +
          load.total.serverErrors,
        'valid-client requests': valid.length,
        'revoked-client attempts (all refused)': revoked.length,
        '5xx responses': load.total.serverErrors,
        'service exit code after SIGTERM': String(code),
      },
      tables: [
        {
          columns: ['fault', 'logged code', 'cause', 'requests during the fault', 'valid-client failures', 'revoked client served', '5xx'],
          rows,
        },
      ],
    });
  });

  /** Apply `fault`, reload, and check the service and the traffic during the fault. */
  async function runFault(fault: Fault): Promise<void> {
    faultsTried++;
    const t0 = load.now();
    const mark = logMark(svc);
    await fault.apply();
    svc.signal('SIGHUP');
    const line = await waitForLogAfter(svc, mark, l => l.code === fault.code || l.event === 'tls.reload');
    assert.equal(line.event, undefined, `the reload was accepted: ${JSON.stringify(line)}`);
    assert.equal(line.cause, fault.cause, `cause of ${JSON.stringify(line)}`);
    // Traffic keeps flowing after the refused reload, through every client.
    await load.progress([...VALID_GROUPS, 'revoked'], 5);
    files.restore();

    const during = (g: string): LoadRecord[] => load.of(g, t0);
    const validFailures = VALID_GROUPS.flatMap(g => during(g)).filter(r => r.kind !== 'response' || r.status !== 200);
    const revokedServed = during('revoked').filter(r => isServed(r));
    const serverErrors = [...VALID_GROUPS, 'revoked'].flatMap(g => during(g)).filter(r => (r.status ?? 0) >= 500);
    rows.push([
      fault.name,
      fault.code,
      fault.cause,
      [...VALID_GROUPS, 'revoked'].flatMap(g => during(g)).length,
      validFailures.length,
      revokedServed.length,
      serverErrors.length,
    ]);
    assert.deepEqual(
      validFailures.map(r => `${r.group}:${r.kind}:${r.status ?? ''}:${r.error ?? ''}`),
      [],
      'valid clients failed during the fault',
    );
    assert.deepEqual(
      revokedServed.map(r => r.status),
      [],
      'the revoked client was served',
    );
    assert.equal(serverErrors.length, 0);
    assert.equal(svc.child.exitCode, null, 'the process stays up');
  }

  const crlFaults = (): Fault[] => [
    {name: 'CRL file deleted', apply: () => unlinkSync(files.intermediateCrl), code: 'CRL_RELOAD_FAILED', cause: 'TLS_MATERIAL_UNREADABLE'},
    {name: 'CRL file emptied', apply: () => writeAtomically(files.intermediateCrl, ''), code: 'CRL_RELOAD_FAILED', cause: 'CRL_INVALID'},
    {
      name: 'CRL truncated (PEM, half)',
      apply: () => {
        const pem = readFileSync(pki.crls.intermediate);
        writeAtomically(files.intermediateCrl, pem.subarray(0, pem.length >> 1));
      },
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_INVALID',
    },
    {
      name: 'CRL truncated (DER, last byte cut)',
      apply: () => {
        const der = opensslGenCrl({
          caCertFile: pki.intermediateCa.cert,
          caKeyFile: pki.intermediateCa.key,
          revokedCertFiles: [pki.clients.revoked.cert],
          format: 'DER',
        });
        writeAtomically(files.intermediateCrl, der.subarray(0, der.length - 1));
      },
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_INVALID',
    },
    {
      name: 'CRL replaced by 4 KiB of garbage',
      apply: () => writeAtomically(files.intermediateCrl, seededBytes(4096)),
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_INVALID',
    },
    {
      name: 'CRL replaced by garbage inside PEM armour',
      apply: () =>
        writeAtomically(files.intermediateCrl, `-----BEGIN X509 CRL-----\n${seededBytes(300, 7).toString('base64')}\n-----END X509 CRL-----\n`),
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_INVALID',
    },
    {
      name: 'stale CRL (past nextUpdate, revokes nobody)',
      apply: () =>
        writeAtomically(
          files.intermediateCrl,
          opensslGenCrl({
            caCertFile: pki.intermediateCa.cert,
            caKeyFile: pki.intermediateCa.key,
            lastUpdate: new Date(Date.now() - 3 * DAY),
            nextUpdate: new Date(Date.now() - DAY),
          }),
        ),
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_EXPIRED',
    },
    {
      name: 'CRL from the future (thisUpdate tomorrow, revokes nobody)',
      apply: () =>
        writeAtomically(
          files.intermediateCrl,
          opensslGenCrl({
            caCertFile: pki.intermediateCa.cert,
            caKeyFile: pki.intermediateCa.key,
            lastUpdate: new Date(Date.now() + DAY),
            nextUpdate: new Date(Date.now() + 8 * DAY),
          }),
        ),
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_EXPIRED',
    },
    {
      name: 'CRL signed by another key with the same issuer name (revokes nobody)',
      apply: () => writeAtomically(files.intermediateCrl, opensslGenCrl({caCertFile: pki.untrustedCa.cert, caKeyFile: pki.untrustedCa.key})),
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_SIGNATURE_INVALID',
    },
    {
      name: 'CRL rolled back to an older one (lower cRLNumber, earlier thisUpdate, omits the revoked client)',
      apply: async () => {
        const generated = Date.parse(pki.generatedAt);
        const older = await createCrl(await givenTestIntermediateCa(), [], {
          thisUpdate: new Date(generated - 2 * HOUR),
          nextUpdate: new Date(generated + 20 * DAY),
          crlNumber: 0,
        });
        writeAtomically(files.intermediateCrl, older.pem);
      },
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_ROLLBACK',
    },
    {
      name: "intermediate CRL replaced by the root CA's CRL (the intermediate loses its CRL)",
      apply: () => writeAtomically(files.intermediateCrl, readFileSync(pki.crls.root)),
      code: 'CRL_RELOAD_FAILED',
      cause: 'CRL_ROLLBACK',
    },
  ];

  const materialFaults = (): Fault[] => [
    {
      name: 'server key replaced by a key that does not match',
      apply: () => writeAtomically(files.key, readFileSync(pki.clients.valid2.key)),
      code: 'TLS_RELOAD_FAILED',
      cause: 'TLS_KEY_MISMATCH',
    },
    {
      name: 'server certificate truncated',
      apply: () => writeAtomically(files.cert, readFileSync(pki.server.cert).subarray(0, 200)),
      code: 'TLS_RELOAD_FAILED',
      cause: 'TLS_MATERIAL_UNREADABLE',
    },
    {
      name: 'CA bundle replaced by garbage',
      apply: () => writeAtomically(files.ca, seededBytes(2048, 11)),
      code: 'TLS_RELOAD_FAILED',
      cause: 'TLS_MATERIAL_UNREADABLE',
    },
  ];

  // The faults only touch `pki`/`files` when applied (after before() ran).
  for (const fault of [...crlFaults(), ...materialFaults()]) {
    it(`${fault.name}: ${fault.code} (${fault.cause}), last good state kept, traffic unaffected`, () => runFault(fault));
  }

  it('a good CRL afterwards is installed, and over the whole run no valid request failed and the revoked client was never served', async () => {
    const mark = logMark(svc);
    writeAtomically(
      files.intermediateCrl,
      opensslGenCrl({caCertFile: pki.intermediateCa.cert, caKeyFile: pki.intermediateCa.key, revokedCertFiles: [pki.clients.revoked.cert]}),
    );
    svc.signal('SIGHUP');
    const line = await waitForLogAfter(svc, mark, l => l.event === 'tls.reload' || l.code === 'CRL_RELOAD_FAILED');
    assert.equal(line.event, 'tls.reload', JSON.stringify(line));
    await load.progress([...VALID_GROUPS, 'revoked'], 5);
    await load.stop();

    const valid = VALID_GROUPS.flatMap(g => load.of(g));
    assert.ok(valid.length > 0);
    assert.deepEqual(tally(valid), {200: valid.length}, 'every request of a valid client succeeded');
    assert.equal(
      load.of('revoked').filter(r => isServed(r)).length,
      0,
      "the revoked client never got an HTTP response other than the gate's coded refusal",
    );
    assert.equal(load.total.serverErrors, 0);
    assert.equal(load.unsolicitedBytes.total, 0);
    assert.deepEqual(fatalLines(svc), []);
    assert.deepEqual(stderrLines(svc), []);
    // The gate refused the revoked client with its code throughout.
    assert.ok(svc.logs.some(l => l.event === 'tls.connection' && l.code === 'AUTH_CERT_REVOKED' && l.serial === pki.clients.revoked.serialHex));
  });
});
