/**
 * RevocationStore: epoch, 'change' events, last-good-on-failure, serialised reloads, audit lines.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {Writable} from 'node:stream';
import {createLogger} from '../../../src/logging/logger';
import {parseCrl} from '../../../src/tls/revocation/crl-parser';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {expectAppError, givenOpensslCa, LeafCert, OpensslCa} from '../../unit/revocation/fixtures/openssl-ca';

function givenCapturingLogger(): {lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger>} {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return {lines, logger: createLogger({destination, level: 'info'})};
}

describe('revocation: RevocationStore (integration)', function () {
  this.timeout(60_000);
  let tmp: string;
  let ca: OpensslCa;
  let first: LeafCert;
  let second: LeafCert;
  let crlFile: string;

  before(() => {
    tmp = givenTempDir('revocation-');
    ca = givenOpensslCa(tmp, {name: 'store', keyAlg: 'ec256'});
    first = ca.issueLeaf('first');
    second = ca.issueLeaf('second');
    ca.revoke(first.certFile);
    crlFile = path.join(tmp, 'current.crl');
    fs.copyFileSync(ca.genCrl({out: 'crl1.pem'}), crlFile);
  });
  after(() => removeTempDir(tmp));

  it('starts empty at epoch 0', () => {
    const store = new RevocationStore();
    assert.equal(store.epoch, 0);
    assert.equal(store.index.statusOfCertificate(first.cert).status, 'unknown');
  });

  it('load() builds the start-up index and rejects like RevocationIndex.load()', async () => {
    const store = await RevocationStore.load([crlFile], [ca.cert]);
    assert.equal(store.epoch, 0);
    assert.equal(store.index.statusOfCertificate(first.cert).status, 'revoked');
    await expectAppError(RevocationStore.load([path.join(tmp, 'nope.crl')], [ca.cert]), 'TLS_MATERIAL_UNREADABLE');
  });

  it('reload swaps the index, bumps the epoch and emits change; a failed reload keeps the last good index', async () => {
    const {lines, logger} = givenCapturingLogger();
    const store = new RevocationStore(undefined, logger);
    const events: number[] = [];
    store.on('change', epoch => events.push(epoch));

    const ok = await store.reload([crlFile], [ca.cert]);
    assert.deepEqual(ok, {ok: true, epoch: 1});
    assert.deepEqual(events, [1]);
    const good = store.index;
    assert.equal(good.statusOfCertificate(first.cert).status, 'revoked');
    assert.equal(good.statusOfCertificate(second.cert).status, 'good');

    // The file is replaced by garbage: reload fails, nothing changes.
    fs.writeFileSync(crlFile, 'garbage');
    const bad = await store.reload([crlFile], [ca.cert]);
    assert.equal(bad.ok, false);
    if (bad.ok) return;
    assert.equal(bad.error.code, 'CRL_RELOAD_FAILED');
    assert.equal(bad.error.details.causeCode, 'CRL_INVALID');
    assert.equal(bad.error.details.file, crlFile);
    assert.equal(store.epoch, 1);
    assert.equal(store.index, good);
    assert.deepEqual(events, [1]);
    assert.equal(store.index.statusOfCertificate(first.cert).status, 'revoked');

    // The CA revokes the second leaf; the next reload picks it up.
    ca.revoke(second.certFile);
    fs.copyFileSync(ca.genCrl({out: 'crl2.pem'}), crlFile);
    assert.deepEqual(await store.reload([crlFile], [ca.cert]), {ok: true, epoch: 2});
    assert.deepEqual(events, [1, 2]);
    assert.equal(store.index.statusOfCertificate(second.cert).status, 'revoked');

    // One audit line per reload decision.
    const audits = lines.filter(l => l.audit === true && l.event === 'crl.reload');
    assert.deepEqual(
      audits.map(a => [a.decision, a.code, a.causeCode]),
      [
        ['allow', undefined, undefined],
        ['deny', 'CRL_RELOAD_FAILED', 'CRL_INVALID'],
        ['allow', undefined, undefined],
      ],
    );
  });

  it('serialises concurrent reloads in call order (the later call wins)', async () => {
    const empty = path.join(tmp, 'empty-ca.crl');
    const fresh = givenOpensslCa(tmp, {name: 'store2', keyAlg: 'ec256'});
    fs.copyFileSync(fresh.genCrl({out: 'crl.pem'}), empty);
    const revokedLeaf = fresh.issueLeaf('r');
    fresh.revoke(revokedLeaf.certFile);
    const withEntry = fresh.genCrl({out: 'crl2.pem'});

    const store = new RevocationStore();
    const a = store.reload([withEntry], [fresh.cert]);
    const b = store.reload([empty], [fresh.cert]);
    const c = store.reload([path.join(tmp, 'missing.crl')], [fresh.cert]);
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    assert.deepEqual(
      [ra, rb],
      [
        {ok: true, epoch: 1},
        {ok: true, epoch: 2},
      ],
    );
    assert.equal(rc.ok, false);
    assert.equal(store.epoch, 2);
    // b (the older CRL without the entry) was applied last.
    assert.equal(store.index.statusOfCertificate(revokedLeaf.cert).status, 'good');
  });

  it('addFetched installs into the current index and bumps the epoch only when installed', async () => {
    const store = new RevocationStore(await RevocationIndex.load([], [ca.cert]));
    const events: number[] = [];
    store.on('change', e => events.push(e));
    const crl = await parseCrl(fs.readFileSync(crlFile));
    assert.equal(await store.addFetched(crl, ca.cert, 'http://127.0.0.1/ca.crl'), true);
    assert.equal(store.epoch, 1);
    assert.equal(await store.addFetched(crl, ca.cert, 'again'), false);
    assert.equal(store.epoch, 1);
    assert.deepEqual(events, [1]);
    assert.equal(store.index.statusOfCertificate(second.cert).status, 'revoked');
    await expectAppError(store.addFetched(crl, first.cert), 'CRL_SIGNATURE_INVALID');
  });

  it('swap() installs an index directly', () => {
    const store = new RevocationStore();
    const next = RevocationIndex.empty();
    assert.equal(store.swap(next), 1);
    assert.equal(store.index, next);
  });
});
