/**
 * revocationRollback(): a reload may not drop a still-trusted CA's CRL nor replace it by an older
 * one. With partitioned CRLs (issuingDistributionPoint) one issuer has several CRLs, compared
 * partition by partition (issuer + scope), never with each other.
 */
import assert from 'node:assert/strict';
import type {CrlRecord, RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {revocationRollback} from '../../../src/tls/tls-reloader';

const CA = 'AA'.repeat(32);
const day = (d: number) => new Date(Date.UTC(2026, 11, d));

function index(crls: CrlRecord[]): RevocationIndex {
  // revocationRollback reads only these two members.
  return {trustedCas: [{fingerprint256: CA}], crls} as unknown as RevocationIndex;
}
function crl(file: string, scope: string | undefined, crlNumber: bigint, thisUpdate = day(1)): CrlRecord {
  return {file, issuerFingerprint256: CA, scope, crlNumber, thisUpdate, entryCount: 0};
}

describe('tls: CRL rollback check on reload, partitioned CRLs (unit)', () => {
  const files = ['/crl/p1.pem', '/crl/p2.pem'];
  const cases: Array<[string, CrlRecord[], CrlRecord[], string | undefined]> = [
    [
      'two partitions, both renewed',
      [crl(files[0], 'AA01', 9n), crl(files[1], 'AA02', 5n)],
      [crl(files[0], 'AA01', 10n), crl(files[1], 'AA02', 6n)],
      undefined,
    ],
    [
      'two partitions with different numbers, unchanged',
      [crl(files[0], 'AA01', 9n), crl(files[1], 'AA02', 5n)],
      [crl(files[0], 'AA01', 9n), crl(files[1], 'AA02', 5n)],
      undefined,
    ],
    ['one partition dropped', [crl(files[0], 'AA01', 5n), crl(files[1], 'AA02', 9n)], [crl(files[1], 'AA02', 9n)], 'CRL_ROLLBACK'],
    [
      'one partition older',
      [crl(files[0], 'AA01', 5n), crl(files[1], 'AA02', 9n)],
      [crl(files[0], 'AA01', 4n), crl(files[1], 'AA02', 9n)],
      'CRL_ROLLBACK',
    ],
    ['a complete CRL replaced by an older one', [crl(files[0], undefined, 5n)], [crl(files[0], undefined, 4n)], 'CRL_ROLLBACK'],
    ['a complete CRL renewed', [crl(files[0], undefined, 5n)], [crl(files[0], undefined, 6n)], undefined],
  ];
  for (const [name, cur, next, expected] of cases) {
    it(`${name}: ${expected ?? 'accepted'}`, () => {
      assert.equal(revocationRollback(index(cur), index(next), files)?.code, expected);
    });
  }
});
