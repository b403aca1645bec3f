/**
 * Malformed certificate material: a seeded DER-aware mutator (der-mutator.ts) feeds at least
 * 10,000 inputs (FUZZ_RUNS, FUZZ_SEED to change or replay) to each parser of certificate
 * material the service runs on input it did not make:
 *  - the CRL parser (parseCrl) followed by the signature check the revocation index applies,
 *  - the certificate-fields parser the revocation index applies to CA certificates,
 *  - the full CRL reload path (file -> RevocationIndex.load) on a smaller sample.
 * Oracle: nothing throws anything but an AppError with one of the parser's denial codes; no
 * uncaught exception or unhandled rejection happens meanwhile; a mutated CRL whose signed content
 * changed never verifies, never loads.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {performance} from 'node:perf_hooks';
import {AppError, ErrorCode} from '../../../src/errors';
import {parseCrl, ParsedCrl} from '../../../src/tls/revocation/crl-parser';
import {parseCertificateFields, verifyCrlSignature} from '../../../src/tls/revocation/crl-signature';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {opensslGenCrl} from '../../fixtures/openssl-ca';
import {buildLargeCrlDer, createCrl, DevPkiManifest, givenTempDir, givenTestIntermediateCa, givenTestPki, givenTestRootCa} from '../../fixtures/pki';
import {Cell, recordSection} from '../../fixtures/reliability-report';
import {DerMutator, fuzzSettings, MutatedInput, Rng, toPem} from './der-mutator';

const {runs: RUNS, seed: SEED} = fuzzSettings();

/** What a parser did with one input. */
interface Verdict {
  outcome: 'accepted' | 'refused';
  code?: ErrorCode;
  message?: string;
}

interface CampaignResult {
  parser: string;
  inputs: number;
  accepted: number;
  refused: number;
  codes: Record<string, number>;
  distinctMessages: number;
  failures: string[];
  ms: number;
}

function pemToDer(pem: Buffer): Buffer {
  const m = /-----BEGIN [^-]+-----([\s\S]+?)-----END/.exec(pem.toString('latin1'));
  assert.ok(m, 'not PEM');
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/** Track uncaught exceptions and unhandled rejections while a campaign runs. */
function watchProcess(): {stop(): string[]} {
  const seen: string[] = [];
  const onUncaught = (e: unknown) => seen.push(`uncaught: ${String(e)}`);
  const onRejection = (e: unknown) => seen.push(`unhandled rejection: ${String(e)}`);
  // mocha has its own uncaughtException handler; ours only counts.
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  return {
    stop() {
      process.removeListener('uncaughtException', onUncaught);
      process.removeListener('unhandledRejection', onRejection);
      return seen;
    },
  };
}

async function campaign(
  parser: string,
  mutator: DerMutator,
  runs: number,
  allowed: readonly ErrorCode[],
  check: (input: MutatedInput, i: number) => Promise<Verdict>,
): Promise<CampaignResult> {
  const res: CampaignResult = {parser, inputs: 0, accepted: 0, refused: 0, codes: {}, distinctMessages: 0, failures: [], ms: 0};
  const messages = new Set<string>();
  const watch = watchProcess();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const input = mutator.input(i);
    res.inputs++;
    let v: Verdict;
    try {
      v = await check(input, i);
    } catch (e) {
      if (e instanceof AppError && allowed.includes(e.code)) {
        v = {outcome: 'refused', code: e.code, message: e.message};
      } else {
        if (res.failures.length < 10) {
          res.failures.push(`seed ${SEED} input ${i} (${input.ops.join('+')} on seed input ${input.seedIndex}): ${e instanceof AppError ? `AppError ${e.code}` : `non-AppError ${String(e)}`}`);
        }
        continue;
      }
    }
    if (v.outcome === 'accepted') res.accepted++;
    else {
      res.refused++;
      res.codes[v.code!] = (res.codes[v.code!] ?? 0) + 1;
      messages.add(v.message ?? '');
    }
  }
  res.ms = Math.round(performance.now() - t0);
  res.failures.push(...watch.stop());
  res.distinctMessages = messages.size;
  return res;
}

describe('reliability: malformed certificate material, seeded DER fuzzing (integration)', function () {
  this.timeout(600_000);
  let pki: DevPkiManifest;
  let cas: X509Certificate[];
  const results: CampaignResult[] = [];
  /** tbsDer+signature of every seed CRL: a parsed mutant with the same pair is not a mutation of what is signed. */
  const signedSeeds = new Set<string>();

  before(async () => {
    pki = await givenTestPki();
    cas = [new X509Certificate(readFileSync(pki.rootCa.cert)), new X509Certificate(readFileSync(pki.intermediateCa.cert))];
  });

  after(() => {
    if (results.length === 0) return;
    recordSection({
      id: 'fuzz',
      title: 'Malformed certificate material (seeded DER fuzzing)',
      claim: `A seeded DER-aware mutator (bit flips, byte edits, truncation, retagging, length rewrites incl. indefinite/huge/non-minimal, TLV duplication/removal/swap/nesting, random contents, splices from other structures, PEM re-armouring) feeds at least ${RUNS} inputs to each parser. Nothing may throw anything but an AppError with the parser's denial code, and no mutated signed content may verify.`,
      source: 'test/integration/reliability/parser-fuzz.test.ts',
      figures: {
        cases: results.reduce((n, r) => n + r.inputs, 0),
        requests: 0,
        failures: results.reduce((n, r) => n + r.failures.length, 0),
        seed: `0x${SEED.toString(16)}`,
        'inputs per parser (minimum)': RUNS,
      },
      tables: [{
        columns: ['parser', 'inputs', 'accepted', 'refused', 'refusal codes', 'distinct refusal messages', 'failures', 'ms (informative)'],
        rows: results.map((r): Cell[] => [r.parser, r.inputs, r.accepted, r.refused, Object.entries(r.codes).map(([c, n]) => `${c}: ${n}`).join(', '), r.distinctMessages, r.failures.length, r.ms]),
      }],
      notes: ['Replay a failure with FUZZ_SEED=<seed> and the input index printed by the test; FUZZ_RUNS raises the count.'],
    });
  });

  it(`CRL parser + signature check: ${RUNS} mutated CRLs (DER and PEM), only CRL_INVALID / CRL_ISSUER_NOT_CRLSIGN, no mutated CRL verifies`, async () => {
    const inter = await givenTestIntermediateCa();
    const root = await givenTestRootCa();
    const now = Date.now();
    const seeds: Buffer[] = [
      opensslGenCrl({caCertFile: pki.intermediateCa.cert, caKeyFile: pki.intermediateCa.key, revokedCertFiles: [pki.clients.revoked.cert, pki.clients.valid2.cert], format: 'DER'}),
      opensslGenCrl({caCertFile: pki.rootCa.cert, caKeyFile: pki.rootCa.key, format: 'DER'}),
      (await createCrl(inter, [{serialHex: '01'}, {serialHex: '9F01', reason: 1}, {serialHex: 'FF00FF00FF00FF00FF00FF00FF00FF00', reason: 4}], {crlNumber: 7})).der,
      (await createCrl(root, [], {crlNumber: 2, nextUpdate: new Date(now + 86400_000)})).der,
      buildLargeCrlDer({certPem: inter.certPem, keyPem: inter.keyPem}, 40, {seed: 'fuzz'}),
    ];
    const donors = [...seeds, pemToDer(readFileSync(pki.server.cert)), pemToDer(readFileSync(pki.clients.valid.cert))];
    for (const s of seeds) {
      const crl = await parseCrl(s);
      signedSeeds.add(crl.tbsDer.toString('hex') + crl.signature.toString('hex'));
      assert.ok((await Promise.all(cas.map(ca => verifyCrlSignature(crl, ca)))).some(Boolean), 'every seed CRL verifies');
    }
    const mutator = new DerMutator(seeds, SEED, donors);
    const pemRng = new Rng(SEED ^ 0x5a5a);
    const res = await campaign('parseCrl + verifyCrlSignature', mutator, RUNS, ['CRL_INVALID', 'CRL_ISSUER_NOT_CRLSIGN'], async (input, i) => {
      const bytes = i % 5 === 4 ? toPem(input.bytes, pemRng.int(8) === 0 ? 'X509 CERTIFICATE' : 'X509 CRL', pemRng) : input.bytes;
      const crl: ParsedCrl = await parseCrl(bytes);
      if (!signedSeeds.has(crl.tbsDer.toString('hex') + crl.signature.toString('hex'))) {
        for (const ca of cas) {
          if (await verifyCrlSignature(crl, ca)) throw new Error(`a mutated CRL verified against ${ca.subject}`);
        }
      }
      return {outcome: 'accepted'};
    });
    results.push(res);
    assert.deepEqual(res.failures, []);
    assert.equal(res.inputs, RUNS);
    // The fuzzer reaches past the first bytes: many inputs parse, many distinct refusals occur.
    assert.ok(res.accepted > RUNS / 50, `only ${res.accepted} inputs parsed`);
    assert.ok(res.distinctMessages >= 15, `only ${res.distinctMessages} distinct refusals`);
  });

  it(`certificate-fields parser (CA certificates of the revocation index): ${RUNS} mutated certificates, only TLS_MATERIAL_UNREADABLE`, async () => {
    const seeds = [pki.rootCa.cert, pki.intermediateCa.cert, pki.server.cert, pki.clients.valid.cert, pki.clients['rsa-2048'].cert, pki.clients['no-eku'].cert]
      .map(f => pemToDer(readFileSync(f)));
    const mutator = new DerMutator(seeds, SEED ^ 0xc3c3);
    const res = await campaign('parseCertificateFields', mutator, RUNS, ['TLS_MATERIAL_UNREADABLE'], async input => {
      const fields = parseCertificateFields(input.bytes, 'TLS_MATERIAL_UNREADABLE');
      assert.ok(Buffer.isBuffer(fields.subjectDer));
      return {outcome: 'accepted'};
    });
    results.push(res);
    assert.deepEqual(res.failures, []);
    assert.ok(res.accepted > RUNS / 50, `only ${res.accepted} inputs parsed`);
  });

  it('the CRL reload path (file -> RevocationIndex.load): 1,000 mutated CRL files refused with a CRL code, a mutant never loads', async () => {
    const dir = givenTempDir('hmtls-fuzz-');
    const file = path.join(dir, 'fuzz.crl');
    const good = opensslGenCrl({caCertFile: pki.intermediateCa.cert, caKeyFile: pki.intermediateCa.key, revokedCertFiles: [pki.clients.revoked.cert], format: 'DER'});
    const goodCrl = await parseCrl(good);
    const mutator = new DerMutator([good, toPem(good, 'X509 CRL')], SEED ^ 0x1d1d);
    const allowed: ErrorCode[] = ['CRL_INVALID', 'CRL_SIGNATURE_INVALID', 'CRL_ISSUER_NOT_CRLSIGN', 'CRL_EXPIRED', 'TLS_MATERIAL_UNREADABLE'];
    const res = await campaign('RevocationIndex.load (file)', mutator, 1000, allowed, async input => {
      writeFileSync(file, input.bytes);
      const index = await RevocationIndex.load([file], cas);
      // Only a mutation outside the signed content (e.g. in PEM whitespace) may load.
      const crl = await parseCrl(input.bytes);
      if (!crl.tbsDer.equals(goodCrl.tbsDer) || !crl.signature.equals(goodCrl.signature)) throw new Error('a mutated CRL loaded');
      assert.equal(index.crls.length, 1);
      return {outcome: 'accepted'};
    });
    results.push(res);
    assert.deepEqual(res.failures, []);
    assert.ok(res.refused > 900);
  });
});
