/**
 * The connection gate's pure verdicts (table-driven): a presented certificate's facts -> the
 * coded refusal and the audit reason; a failed handshake's Node error -> its coded reason; the
 * fixed answer a refused client receives.
 */
import assert from 'node:assert/strict';
import {ERROR_CODES} from '../../../src/errors';
import {classifyPeer, gateRefusalResponse, handshakeFailureReason, PeerFacts} from '../../../src/tls/connection-gate';

const CLIENT_AUTH = ['1.3.6.1.5.5.7.3.2'];
const good: PeerFacts = {present: true, bits: 256, rsa: false, extKeyUsage: CLIENT_AUTH};

const ROWS: [string, PeerFacts, string | undefined, string | undefined][] = [
  ['valid EC P-256 with clientAuth', good, undefined, undefined],
  ['valid RSA-2048 with clientAuth', {...good, bits: 2048, rsa: true}, undefined, undefined],
  ['no certificate', {present: false}, 'AUTH_NO_CLIENT_CERT', 'NO_CLIENT_CERT'],
  ['expired', {...good, authorizationError: 'CERT_HAS_EXPIRED'}, 'AUTH_CERT_EXPIRED', 'CERT_HAS_EXPIRED'],
  ['not yet valid', {...good, authorizationError: 'CERT_NOT_YET_VALID'}, 'AUTH_CERT_NOT_YET_VALID', 'CERT_NOT_YET_VALID'],
  [
    'untrusted, reason kept',
    {...good, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'},
    'AUTH_CERT_UNTRUSTED',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  ],
  ['self-signed', {...good, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT'}, 'AUTH_CERT_UNTRUSTED', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  ['OpenSSL names the weak key', {...good, authorizationError: 'EE_KEY_TOO_SMALL'}, 'AUTH_KEY_WEAK', 'EE_KEY_TOO_SMALL'],
  [
    'Node says UNSPECIFIED for an RSA-1024 key',
    {...good, bits: 1024, rsa: true, authorizationError: 'UNSPECIFIED'},
    'AUTH_KEY_WEAK',
    'EE_KEY_TOO_SMALL',
  ],
  ['UNSPECIFIED with a strong key stays untrusted', {...good, authorizationError: 'UNSPECIFIED'}, 'AUTH_CERT_UNTRUSTED', 'UNSPECIFIED'],
  ['weak key that OpenSSL accepted (lower level) is still refused', {...good, bits: 1024, rsa: true}, 'AUTH_KEY_WEAK', 'EE_KEY_TOO_SMALL'],
  ['EC P-192 key', {...good, bits: 192}, 'AUTH_KEY_WEAK', 'EE_KEY_TOO_SMALL'],
  ['Ed25519 (no bits reported) passes to the authenticator', {...good, bits: undefined}, undefined, undefined],
  ['wrong EKU (OpenSSL purpose check)', {...good, authorizationError: 'INVALID_PURPOSE'}, 'AUTH_EKU_NOT_CLIENT_AUTH', 'INVALID_PURPOSE'],
  ['no EKU extension', {...good, extKeyUsage: undefined}, 'AUTH_EKU_NOT_CLIENT_AUTH', 'NO_EXTENDED_KEY_USAGE'],
  ['EKU without clientAuth', {...good, extKeyUsage: ['1.3.6.1.5.5.7.3.1']}, 'AUTH_EKU_NOT_CLIENT_AUTH', 'INVALID_PURPOSE'],
  ['revoked per OpenSSL', {...good, authorizationError: 'CERT_REVOKED'}, 'AUTH_CERT_REVOKED', 'CERT_REVOKED'],
  ['DER the strict reader refuses (OpenSSL accepted it)', {present: true, malformed: true}, 'AUTH_CERT_MALFORMED', 'CERTIFICATE_MALFORMED'],
  [
    'an OpenSSL verdict still comes first on malformed DER',
    {present: true, malformed: true, authorizationError: 'CERT_HAS_EXPIRED'},
    'AUTH_CERT_EXPIRED',
    'CERT_HAS_EXPIRED',
  ],
];

describe('tls: connection gate verdicts, table-driven (unit)', () => {
  for (const [name, facts, code, reason] of ROWS) {
    it(`${name} -> ${code ?? 'passes'}`, () => {
      const v = classifyPeer(facts);
      assert.deepEqual(v ? [v.code, v.reason] : [undefined, undefined], [code, reason]);
    });
  }

  const FAILURES: [string | undefined, string][] = [
    ['ECONNRESET', 'HANDSHAKE_ABANDONED'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'HANDSHAKE_TIMEOUT'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'PROTOCOL_VERSION'],
    ['ERR_SSL_NO_SHARED_CIPHER', 'NO_SHARED_PARAMETERS'],
    ['ERR_SSL_HTTP_REQUEST', 'NON_TLS'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'NON_TLS'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'PEER_ALERT'],
    ['ERR_SOMETHING_NEW', 'TLS_ERROR'],
    [undefined, 'TLS_ERROR'],
  ];
  for (const [err, reason] of FAILURES) {
    it(`failed handshake ${err ?? '(no code)'} -> ${reason}`, () => assert.equal(handshakeFailureReason(err), reason));
  }

  it("the fixed answer: the code's status, the coded body, the given headers, Connection: close", () => {
    const text = gateRefusalResponse('AUTH_KEY_WEAK', {'Cache-Control': 'no-store'});
    const [head, body] = text.split('\r\n\r\n');
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${ERROR_CODES.AUTH_KEY_WEAK.status} Forbidden\r\n`));
    assert.match(head, /\r\nConnection: close(\r\n|$)/);
    assert.match(head, /\r\nCache-Control: no-store\r\n/);
    assert.match(head, new RegExp(`\r\nContent-Length: ${Buffer.byteLength(body)}(\r\n|$)`));
    assert.deepEqual(Object.keys(JSON.parse(body) as object), ['error']);
    assert.equal((JSON.parse(body) as {error: {code: string}}).error.code, 'AUTH_KEY_WEAK');
  });
});
