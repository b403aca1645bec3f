/**
 * Malformed certificate material: a seeded DER-aware mutator (der-mutator.ts) feeds at least
 * 10,000 inputs (FUZZ_RUNS, FUZZ_SEED to change or replay) to each parser of certificate
 * material the service runs on input it did not make:
 *  - the CRL parser (parseCrl) followed by the signature check the revocation index applies,
 *  - the certificate-fields parser the revocation index applies to CA certificates,
 *  - the authenticator's client-certificate parser (parseCertificate), then chain verification,
 *  - the OCSP response verifier (verifyOcspResponse) on real `openssl ocsp` responses,
 *  - the full CRL reload path (file -> RevocationIndex.load) on a smaller sample.
 * Oracle: nothing throws anything but an AppError with one of the parser's denial codes (the OCSP
 * verifier never throws: every failure is status 'unknown' with a reason, which the authenticator
 * turns into AUTH_REVOCATION_UNKNOWN); no uncaught exception or unhandled rejection happens
 * meanwhile; a mutant whose signed content changed never verifies: no CRL loads, no certificate
 * chains to the trust anchors, no OCSP answer is good or revoked.
 */
import assert from 'node:assert/strict';
import {X509Certificate} from 'node:crypto';
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {performance} from 'node:perf_hooks';
import {AppError, ErrorCode} from '../../../src/errors';
import {parseCrl, ParsedCrl} from '../../../src/tls/revocation/crl-parser';
import {verifyCrlSignature} from '../../../src/tls/revocation/crl-signature';
import {parseCertificateFields} from '../../../src/x509/certificate-fields';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import http from 'node:http';
import * as pkijs from 'pkijs';
import {ParsedClientCertificate, parseCertificate} from '../../../src/x509/certificate';
import {buildTrustAnchors, ChainVerifier} from '../../../src/auth/chain';
import {buildOcspRequest} from '../../../src/auth/ocsp-request';
import {OcspVerifyContext, verifyOcspResponse} from '../../../src/auth/ocsp-verify';
import {givenOcspResponder, LoopbackResponder} from '../../fixtures/ocsp-responder';
import {opensslGenCrl} from '../../fixtures/openssl-ca';
import {
  buildLargeCrlDer,
  createCrl,
  DevPkiManifest,
  givenTempDir,
  givenTestIntermediateCa,
  givenTestPki,
  givenTestRootCa,
  issueCertificate,
} from '../../fixtures/pki';
import {Cell, recordSection} from '../../fixtures/reliability-report';
import {DerMutator, fuzzSettings, MutatedInput, Rng, tlvs, toPem} from './der-mutator';

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

/** tbsResponseData + signature of an OCSP response (hex), or '' when it does not parse that far. */
function signedPart(der: Buffer): string {
  try {
    const outer = pkijs.OCSPResponse.fromBER(der);
    const bytes = outer.responseBytes?.response.valueBlock.valueHexView;
    if (!bytes) return '';
    const basic = pkijs.BasicOCSPResponse.fromBER(bytes);
    return Buffer.from(basic.tbsResponseData.tbsView).toString('hex') + ':' + Buffer.from(basic.signature.valueBlock.valueHexView).toString('hex');
  } catch {
    return '';
  }
}

/** Where a re-encoded certificate differs from its seed (for the finding's description). */
function describeReencoding(seed: Buffer, mutant: Buffer): string {
  const seedCert = tlvs(seed);
  const outer = seedCert[0];
  if (!outer || seed.length !== mutant.length) return 'length changed';
  let d = 0;
  while (d < seed.length && seed[d] === mutant[d]) d++;
  // Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signatureValue BIT STRING }: the BIT STRING is the last top-level child.
  const top = seedCert.filter(
    t =>
      t.start > outer.start && t.end <= outer.end && !seedCert.some(p => p !== outer && p.start < t.start && t.end <= p.end && p.start > outer.start),
  );
  const sig = top[top.length - 1];
  if (sig && seed[sig.start] === 0x03 && d === sig.start + sig.headerLength) return `signature BIT STRING unused bits ${seed[d]} -> ${mutant[d]}`;
  return `byte ${d} changed`;
}

/** A client certificate the OCSP responder's index does not list. */
async function issueUnknown() {
  return issueCertificate(await givenTestIntermediateCa(), {
    name: 'fuzz-unknown',
    cn: 'fuzz-unknown',
    sans: {uri: ['spiffe://hardened-mtls.test/client/fuzz-unknown']},
  });
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
        v = {outcome: 'refused', code: e.code, message: typeof e.details.why === 'string' ? e.details.why : e.message};
      } else {
        if (res.failures.length < 10) {
          res.failures.push(
            `seed ${SEED} input ${i} (${input.ops.join('+')} on seed input ${input.seedIndex}): ${e instanceof AppError ? `AppError ${e.code}` : `non-AppError ${String(e)}`}`,
          );
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
  /** Mutants that re-encode a valid certificate without changing what was signed, yet chain. */
  const reencoded: string[] = [];
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
      tables: [
        {
          columns: ['parser', 'inputs', 'accepted', 'refused', 'refusal codes', 'distinct refusal messages', 'failures', 'ms (informative)'],
          rows: results.map((r): Cell[] => [
            r.parser,
            r.inputs,
            r.accepted,
            r.refused,
            Object.entries(r.codes)
              .map(([c, n]) => `${c}: ${n}`)
              .join(', '),
            r.distinctMessages,
            r.failures.length,
            r.ms,
          ]),
        },
      ],
      notes: [
        'Replay a failure with FUZZ_SEED=<seed> and the input index printed by the test (the seed inputs are made per run, so replay within the same test run); FUZZ_RUNS raises the count.',
        `Fixed finding (src/x509/certificate.ts): a signature BIT STRING whose unused-bits octet is not 0 is refused (AUTH_CERT_MALFORMED), so a valid certificate can no longer be re-encoded under another fingerprint and still chain. Re-encodings that chained in this run: ${reencoded.length}${reencoded.length ? ` (${[...new Set(reencoded.map(r => r.replace(/ on seed \d+/, '')))].join('; ')})` : ''}.`,
      ],
    });
  });

  it(`CRL parser + signature check: ${RUNS} mutated CRLs (DER and PEM), only CRL_INVALID / CRL_ISSUER_NOT_CRLSIGN, no mutated CRL verifies`, async () => {
    const inter = await givenTestIntermediateCa();
    const root = await givenTestRootCa();
    const now = Date.now();
    const seeds: Buffer[] = [
      opensslGenCrl({
        caCertFile: pki.intermediateCa.cert,
        caKeyFile: pki.intermediateCa.key,
        revokedCertFiles: [pki.clients.revoked.cert, pki.clients.valid2.cert],
        format: 'DER',
      }),
      opensslGenCrl({caCertFile: pki.rootCa.cert, caKeyFile: pki.rootCa.key, format: 'DER'}),
      (
        await createCrl(inter, [{serialHex: '01'}, {serialHex: '9F01', reason: 1}, {serialHex: 'FF00FF00FF00FF00FF00FF00FF00FF00', reason: 4}], {
          crlNumber: 7,
        })
      ).der,
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
    const seeds = [
      pki.rootCa.cert,
      pki.intermediateCa.cert,
      pki.server.cert,
      pki.clients.valid.cert,
      pki.clients['rsa-2048'].cert,
      pki.clients['no-eku'].cert,
    ].map(f => pemToDer(readFileSync(f)));
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

  it(`client-certificate parser (authenticator) + chain verification: ${RUNS} mutated certificates, only AUTH_CERT_MALFORMED, no mutant chains`, async () => {
    const caDers = [pki.rootCa.cert, pki.intermediateCa.cert].map(f => pemToDer(readFileSync(f)));
    const verifier = new ChainVerifier(buildTrustAnchors(caDers), {maxIntermediates: 2});
    const intermediate = parseCertificate(caDers[1]);
    const seeds = (['valid', 'rsa-2048', 'no-eku', 'wrong-san', 'ca-true', 'expired'] as const)
      .map(n => pemToDer(readFileSync(pki.clients[n].cert)))
      .concat([pemToDer(readFileSync(pki.server.cert)), caDers[1]]);
    const seedSet = new Set(seeds.map(d => d.toString('hex')));
    /** What the issuer signed: the TBS bytes and the signature value bits. */
    const signedOf = (c: ParsedClientCertificate) =>
      Buffer.from(c.pkijs.tbsView).toString('hex') + ':' + Buffer.from(c.pkijs.signatureValue.valueBlock.valueHexView).toString('hex');
    const seedSigned = new Set(seeds.map(d => signedOf(parseCertificate(d))));
    const mutator = new DerMutator(seeds, SEED ^ 0xa5a5);
    let chained = 0;
    const res = await campaign('parseCertificate + ChainVerifier', mutator, RUNS, ['AUTH_CERT_MALFORMED'], async input => {
      const cert = parseCertificate(input.bytes);
      if (!seedSet.has(input.bytes.toString('hex'))) {
        const verdict = await verifier.verify(cert, [intermediate], new Date());
        if (verdict.ok) {
          // Only a re-encoding of what the CA signed may chain (same TBS, same signature bits);
          // counted below, since it changes the certificate's fingerprint.
          if (!seedSigned.has(signedOf(cert))) throw new Error(`a mutated certificate chained to the trust anchors (${input.ops.join('+')})`);
          reencoded.push(`${input.ops.join('+')} on seed ${input.seedIndex}: ${describeReencoding(seeds[input.seedIndex], input.bytes)}`);
        } else {
          assert.ok(verdict.code === 'AUTH_CHAIN_INVALID' || verdict.code === 'AUTH_CHAIN_TOO_DEEP', verdict.code);
        }
        chained++;
      }
      return {outcome: 'accepted'};
    });
    results.push(res);
    assert.deepEqual(res.failures, []);
    assert.ok(res.accepted > RUNS / 50, `only ${res.accepted} inputs parsed`);
    assert.ok(chained > 0, 'some parsed mutants reached chain verification');
    // A re-encoding of what the CA signed must not chain either (it had another fingerprint):
    // the signature BIT STRING with unused bits is refused by the parser (src/x509/certificate.ts).
    assert.deepEqual(reencoded, []);
  });

  it(`OCSP response verifier: ${RUNS} mutated real openssl responses, never throws, no mutant is good or revoked`, async () => {
    const intermediateDer = pemToDer(readFileSync(pki.intermediateCa.cert));
    const issuer = parseCertificate(intermediateDer);
    const leafOf = (name: 'valid' | 'revoked' | 'wrong-san') => parseCertificate(pemToDer(readFileSync(pki.clients[name].cert)));
    const responders: LoopbackResponder[] = [];
    try {
      responders.push(
        await givenOcspResponder({
          indexFile: pki.opensslIndex,
          caCert: pki.intermediateCa.cert,
          rsignerCert: pki.ocspResponder.cert,
          rsignerKey: pki.ocspResponder.key,
          nmin: 60,
        }),
      );
      responders.push(
        await givenOcspResponder({
          indexFile: pki.opensslIndex,
          caCert: pki.intermediateCa.cert,
          rsignerCert: pki.intermediateCa.cert,
          rsignerKey: pki.intermediateCa.key,
          ndays: 1,
          extraArgs: ['-resp_key_id'],
        }),
      );
      const post = (url: string, body: Buffer) =>
        new Promise<Buffer>((resolve, reject) => {
          const req = http.request(
            url,
            {method: 'POST', headers: {'content-type': 'application/ocsp-request', 'content-length': body.length}},
            res => {
              const parts: Buffer[] = [];
              res.on('data', (d: Buffer) => parts.push(d));
              res.on('end', () => resolve(Buffer.concat(parts)));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      // Seeds: good (delegated signer, with nonce), revoked, unknown certificate, no nonce, CA-signed by key id.
      const cases: {leaf: ParsedClientCertificate; nonce: boolean; responder: number}[] = [
        {leaf: leafOf('valid'), nonce: true, responder: 0},
        {leaf: leafOf('revoked'), nonce: true, responder: 0},
        {leaf: parseCertificate((await issueUnknown()).certDer), nonce: true, responder: 0},
        {leaf: leafOf('wrong-san'), nonce: false, responder: 0},
        {leaf: leafOf('valid'), nonce: true, responder: 1},
      ];
      const seeds: Buffer[] = [];
      const nonces: (Buffer | undefined)[] = [];
      for (const c of cases) {
        const built = buildOcspRequest(c.leaf, issuer, {nonce: c.nonce});
        seeds.push(await post(responders[c.responder].url, built.der));
        nonces.push(built.nonceExtnValue);
      }
      // Judged at one instant after every response was made (thisUpdate is never in the future).
      const now = new Date();
      const contexts: OcspVerifyContext[] = cases.map((c, i) => ({
        leaf: c.leaf,
        issuer,
        ...(nonces[i] ? {nonceExtnValue: nonces[i]} : {}),
        now,
        clockSkewSec: 0,
        maxAgeWithoutNextUpdateSec: 3600,
      }));
      const signed = seeds.map(signedPart);
      assert.deepEqual(
        seeds.map((b, i) => verifyOcspResponse(b, contexts[i]).status),
        ['good', 'revoked', 'unknown', 'good', 'good'],
        'the seed responses verify as expected',
      );
      const mutator = new DerMutator(seeds, SEED ^ 0x0c5f, [...seeds, intermediateDer]);
      const reasons: Record<string, number> = {};
      const res = await campaign('verifyOcspResponse', mutator, RUNS, [], async input => {
        const r = verifyOcspResponse(input.bytes, contexts[input.seedIndex]);
        if (r.status === 'unknown') {
          reasons[r.reason ?? '?'] = (reasons[r.reason ?? '?'] ?? 0) + 1;
          return {outcome: 'refused', code: 'AUTH_REVOCATION_UNKNOWN', message: r.reason};
        }
        if (!input.bytes.equals(seeds[input.seedIndex]) && signedPart(input.bytes) !== signed[input.seedIndex]) {
          throw new Error(`a mutated OCSP response was accepted as ${r.status} (${input.ops.join('+')})`);
        }
        return {outcome: 'accepted'};
      });
      results.push(res);
      assert.deepEqual(res.failures, []);
      assert.ok(Object.keys(reasons).length >= 5, `only ${Object.keys(reasons).join(', ')}`);
    } finally {
      for (const r of responders) await r.stop();
    }
  });

  it('the CRL reload path (file -> RevocationIndex.load): 1,000 mutated CRL files refused with a CRL code, a mutant never loads', async () => {
    const dir = givenTempDir('hmtls-fuzz-');
    const file = path.join(dir, 'fuzz.crl');
    const good = opensslGenCrl({
      caCertFile: pki.intermediateCa.cert,
      caKeyFile: pki.intermediateCa.key,
      revokedCertFiles: [pki.clients.revoked.cert],
      format: 'DER',
    });
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
