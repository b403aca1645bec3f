/**
 * RFC 5280 path validation, conformance table: for each rule a chain is built at test time by the
 * test's own generator (the openssl CLI, test/integration/auth/support/openssl-pki.ts), judged by
 * the project (MtlsAuthenticator: chain.ts + name-constraints.ts + certificate-policy.ts + the CRL
 * index) and by `openssl verify -x509_strict -purpose sslclient` (with `-crl_check_all` where
 * CRLs apply) on the same files. Both must agree, except rows marked `localPolicy`, which say why.
 *
 * Leaves carry what local policy requires (clientAuth EKU, CA:FALSE, digitalSignature, P-256), so
 * a refusal here is the path's, not local policy's. Leaf CNs carry no dot: OpenSSL also checks a
 * host-like CN against dNSName constraints (a web-PKI habit, not RFC 5280), this project does not.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {MtlsAuthenticator} from '../../../src/auth/mtls-authenticator';
import {isAppError} from '../../../src/errors';
import {createLogger} from '../../../src/logging/logger';
import {RevocationIndex} from '../../../src/tls/revocation/revocation-index';
import {givenTempDir, removeTempDir} from '../../fixtures/temp-dir';
import {IssuedCert, OpensslCa} from './support/openssl-pki';

const DAY = 24 * 60 * 60 * 1000;

interface Case {
  leaf: IssuedCert;
  /** Intermediates, leaf side first. */
  chain: OpensslCa[];
  anchor: OpensslCa;
  /** CRL files (revocation by CRL, openssl -crl_check_all). */
  crls?: string[];
}

interface Row {
  rule: string;
  name: string;
  build: () => Promise<Case>;
  /** The project's verdict: 'ok' or the error code. */
  expected: string;
  /** When OpenSSL decides otherwise by design: its verdict and why (documented local policy). */
  localPolicy?: {openssl: 'ok' | 'refused'; why: string};
}

/** `openssl verify` on the same files: 'ok' or 'refused' (with its message for the assertion). */
async function opensslVerify(dir: string, c: Case): Promise<{verdict: 'ok' | 'refused'; output: string}> {
  const stem = path.join(dir, `verify-${crypto.randomBytes(4).toString('hex')}`);
  const untrusted = `${stem}-untrusted.pem`;
  await fs.writeFile(untrusted, c.chain.map(x => x.cert.pem).join(''));
  const args = [
    'verify',
    '-x509_strict',
    '-purpose',
    'sslclient',
    '-CAfile',
    c.anchor.cert.certPath,
    ...(c.chain.length ? ['-untrusted', untrusted] : []),
  ];
  if (c.crls?.length) {
    args.push('-crl_check_all');
    for (const f of c.crls) args.push('-CRLfile', f);
  }
  args.push(c.leaf.certPath);
  return new Promise(resolve => {
    execFile('openssl', args, {timeout: 20_000}, (err, stdout, stderr) => {
      resolve({verdict: err ? 'refused' : 'ok', output: `${stdout}${stderr}`.trim()});
    });
  });
}

async function projectVerdict(c: Case): Promise<{verdict: string; detail: string}> {
  const logger = createLogger({level: 'silent', destination: {write: () => undefined}});
  let revocation: RevocationIndex | undefined;
  if (c.crls?.length) {
    const cas = [c.anchor, ...c.chain].map(x => x.cert.x509);
    try {
      revocation = await RevocationIndex.load(c.crls, cas);
    } catch (e) {
      return {verdict: isAppError(e) ? e.code : 'INTERNAL_ERROR', detail: String((e as Error).message)};
    }
  }
  const auth = new MtlsAuthenticator(
    {trustAnchors: [c.anchor.cert.der], allowedSubjects: null, revocation: c.crls?.length ? ['crl'] : [], revocationFail: 'closed', maxChainDepth: 4},
    {logger, ...(revocation ? {revocation} : {})},
  );
  const r = await auth.authenticate({leafDer: c.leaf.der, chainDer: c.chain.map(x => x.cert.der), tlsAuthorized: true}, {explain: true});
  return r.ok ? {verdict: 'ok', detail: ''} : {verdict: r.code, detail: r.reason};
}

describe('x509: RFC 5280 conformance table, the project and `openssl verify -x509_strict` on the same chains (integration)', function () {
  this.timeout(120_000);
  let tmp: string;
  let root: OpensslCa;
  let seq = 0;
  const n = (p: string) => `${p}${++seq}`;

  before(async () => {
    tmp = givenTempDir('rfc5280-');
    root = await OpensslCa.createRoot(tmp, 'Conformance Root');
  });
  after(() => removeTempDir(tmp));

  /** An intermediate under the root carrying `nameConstraints = <nc>` (openssl syntax) and extra sections. */
  const constrained = async (nc: string, sections: string[] = [], o: {subject?: string} = {}) =>
    root.createIntermediate(n('NC Int '), {
      extraExtensions: [`nameConstraints = critical,${nc}`, ...sections],
      ...(o.subject ? {subject: o.subject} : {}),
    });
  const leafUnder = async (ca: OpensslCa, o: Parameters<OpensslCa['issue']>[1] = {}) => ({
    leaf: await ca.issue(n('leaf'), o),
    chain: [ca],
    anchor: root,
  });

  const rows: Row[] = [
    {rule: 'baseline', name: 'leaf <- intermediate <- root', expected: 'ok', build: async () => leafUnder(await root.createIntermediate(n('Int ')))},

    // --- validity (RFC 5280 §6.1.3 (a)(2)) ---
    {
      rule: 'validity',
      name: 'expired leaf',
      expected: 'AUTH_CERT_EXPIRED',
      build: async () =>
        leafUnder(await root.createIntermediate(n('Int ')), {startDate: new Date(Date.now() - 10 * DAY), endDate: new Date(Date.now() - DAY)}),
    },
    {
      rule: 'validity',
      name: 'leaf not yet valid',
      expected: 'AUTH_CERT_NOT_YET_VALID',
      build: async () =>
        leafUnder(await root.createIntermediate(n('Int ')), {startDate: new Date(Date.now() + DAY), endDate: new Date(Date.now() + 10 * DAY)}),
    },
    {
      rule: 'validity',
      name: 'expired intermediate',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => {
        const int = await root.createIntermediate(n('Int '), {startDate: new Date(Date.now() - 10 * DAY), endDate: new Date(Date.now() - DAY)});
        return leafUnder(int, {startDate: new Date(Date.now() - 5 * DAY)});
      },
    },

    // --- basic constraints and pathLen (§4.2.1.9, §6.1.4 (k)(l)(m)) ---
    {
      rule: 'basic constraints',
      name: 'issuer with CA:FALSE',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await root.createIntermediate(n('Int '), {basicConstraints: 'critical,CA:FALSE'})),
    },
    {
      rule: 'basic constraints',
      name: 'issuer without basicConstraints',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await root.createIntermediate(n('Int '), {basicConstraints: null})),
    },
    {
      rule: 'pathLen',
      name: 'pathlen:0 intermediate above another intermediate',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => {
        const int = await root.createIntermediate(n('Int '), {pathlen: 0});
        const sub = await int.createIntermediate(n('Sub '));
        return {leaf: await sub.issue(n('leaf')), chain: [sub, int], anchor: root};
      },
    },
    {
      rule: 'pathLen',
      name: 'pathlen:1 intermediate above one intermediate',
      expected: 'ok',
      build: async () => {
        const int = await root.createIntermediate(n('Int '), {pathlen: 1});
        const sub = await int.createIntermediate(n('Sub '));
        return {leaf: await sub.issue(n('leaf')), chain: [sub, int], anchor: root};
      },
    },

    // --- key usage (§4.2.1.3, §6.1.4 (n)) ---
    {
      rule: 'key usage',
      name: 'issuer without keyCertSign',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await root.createIntermediate(n('Int '), {keyUsage: 'critical,cRLSign,digitalSignature'})),
    },
    {
      rule: 'key usage',
      name: 'leaf keyUsage keyEncipherment only',
      expected: 'AUTH_KEY_USAGE_INVALID',
      build: async () => leafUnder(await root.createIntermediate(n('Int ')), {keyUsage: 'critical,keyEncipherment'}),
    },

    // --- name constraints, each form (§4.2.1.10) ---
    {
      rule: 'nc dNSName',
      name: 'permitted, name below the subtree',
      expected: 'ok',
      build: async () => leafUnder(await constrained('permitted;DNS:good.example'), {san: 'DNS:svc.good.example'}),
    },
    {
      rule: 'nc dNSName',
      name: 'permitted, name outside',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('permitted;DNS:good.example'), {san: 'DNS:evil.example'}),
    },
    {
      rule: 'nc dNSName',
      name: 'permitted, a look-alike suffix (notgood.example)',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('permitted;DNS:good.example'), {san: 'DNS:notgood.example'}),
    },
    {
      rule: 'nc dNSName',
      name: 'excluded subtree',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('excluded;DNS:bad.example'), {san: 'DNS:x.bad.example'}),
    },
    {
      rule: 'nc rfc822Name',
      name: 'permitted host, mailbox at it',
      expected: 'ok',
      build: async () => leafUnder(await constrained('permitted;email:good.example'), {san: 'email:alice@good.example'}),
    },
    {
      rule: 'nc rfc822Name',
      name: 'permitted host, mailbox elsewhere',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('permitted;email:good.example'), {san: 'email:alice@evil.example'}),
    },
    {
      rule: 'nc rfc822Name',
      name: 'excluded domain (.bad.example)',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('excluded;email:.bad.example'), {san: 'email:bob@mail.bad.example'}),
    },
    {
      rule: 'nc URI',
      name: 'permitted .good.example, URI host below it',
      expected: 'ok',
      build: async () => leafUnder(await constrained('permitted;URI:.good.example'), {san: 'URI:https://svc.good.example/path'}),
    },
    {
      rule: 'nc URI',
      name: 'permitted .good.example, URI host outside',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('permitted;URI:.good.example'), {san: 'URI:spiffe://evil.example/client/x'}),
    },
    {
      rule: 'nc URI',
      name: 'excluded host',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('excluded;URI:evil.example'), {san: 'URI:spiffe://evil.example/client/x'}),
    },
    {
      rule: 'nc iPAddress',
      name: 'permitted 10.0.0.0/8, address inside',
      expected: 'ok',
      build: async () => leafUnder(await constrained('permitted;IP:10.0.0.0/255.0.0.0'), {san: 'IP:10.1.2.3'}),
    },
    {
      rule: 'nc iPAddress',
      name: 'permitted 10.0.0.0/8, address outside',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('permitted;IP:10.0.0.0/255.0.0.0'), {san: 'IP:192.0.2.1'}),
    },
    {
      rule: 'nc iPAddress',
      name: 'excluded IPv6 prefix',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('excluded;IP:2001:db8::/ffff:ffff::'), {san: 'IP:2001:db8::7'}),
    },
    {
      rule: 'nc directoryName',
      name: 'permitted O=Good, subject inside',
      expected: 'ok',
      build: async () => leafUnder(await constrained('permitted;dirName:dir_good', ['[dir_good]', 'O = Good']), {subject: '/O=Good/CN=leaf'}),
    },
    {
      rule: 'nc directoryName',
      name: 'permitted O=Good, subject outside',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('permitted;dirName:dir_good', ['[dir_good]', 'O = Good']), {subject: '/O=Evil/CN=leaf'}),
    },
    {
      rule: 'nc directoryName',
      name: 'permitted O=Good, subject inside but a directoryName SAN outside',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () =>
        leafUnder(await constrained('permitted;dirName:dir_good', ['[dir_good]', 'O = Good']), {
          subject: '/O=Good/CN=leaf',
          san: 'dirName:dir_evil',
          extraExtensions: ['[dir_evil]', 'O = Evil', 'CN = other'],
        }),
    },
    {
      rule: 'nc directoryName',
      name: 'excluded O=Evil',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => leafUnder(await constrained('excluded;dirName:dir_evil', ['[dir_evil]', 'O = Evil']), {subject: '/O=Evil/CN=leaf'}),
    },

    // --- permitted subtrees intersect along the path (§6.1.4 (g)) ---
    {
      rule: 'nc intersection',
      name: 'root permits a.example, intermediate permits b.example: nothing is permitted',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => {
        const r = await OpensslCa.createRoot(tmp, n('NC Root '), {extraExtensions: ['nameConstraints = critical,permitted;DNS:a.example']});
        const int = await r.createIntermediate(n('NC Int '), {extraExtensions: ['nameConstraints = critical,permitted;DNS:b.example']});
        return {leaf: await int.issue(n('leaf'), {san: 'DNS:x.b.example'}), chain: [int], anchor: r};
      },
    },
    {
      rule: 'nc intersection',
      name: 'root permits a.example, intermediate narrows to sub.a.example: a name inside both',
      expected: 'ok',
      build: async () => {
        const r = await OpensslCa.createRoot(tmp, n('NC Root '), {extraExtensions: ['nameConstraints = critical,permitted;DNS:a.example']});
        const int = await r.createIntermediate(n('NC Int '), {extraExtensions: ['nameConstraints = critical,permitted;DNS:sub.a.example']});
        return {leaf: await int.issue(n('leaf'), {san: 'DNS:x.sub.a.example'}), chain: [int], anchor: r};
      },
    },
    {
      rule: 'nc intersection',
      name: 'two intermediates: the lower one permits more than the upper one',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => {
        const int = await constrained('permitted;DNS:sub.a.example');
        const lower = await int.createIntermediate(n('NC Lower '), {extraExtensions: ['nameConstraints = critical,permitted;DNS:a.example']});
        return {leaf: await lower.issue(n('leaf'), {san: 'DNS:y.a.example'}), chain: [lower, int], anchor: root};
      },
    },

    // --- self-issued intermediates are exempt (§6.1.3 (b)) ---
    {
      rule: 'nc self-issued',
      name: 'a self-issued intermediate (key rollover) outside O=Good is exempt; its leaf inside',
      expected: 'ok',
      build: async () => {
        const int = await constrained('permitted;dirName:dir_good', ['[dir_good]', 'O = Good'], {subject: `/CN=${n('Rollover CA ')}`});
        const subject = `/CN=${int.cert.x509.subject.replace(/^CN=/, '')}`;
        const rolled = await int.createIntermediate(n('rolled'), {subject});
        return {leaf: await rolled.issue(n('leaf'), {subject: '/O=Good/CN=leaf'}), chain: [rolled, int], anchor: root};
      },
    },
    {
      rule: 'nc self-issued',
      name: 'control: a non-self-issued intermediate outside O=Good is constrained',
      expected: 'AUTH_CHAIN_INVALID',
      build: async () => {
        const int = await constrained('permitted;dirName:dir_good', ['[dir_good]', 'O = Good']);
        const sub = await int.createIntermediate(n('Other Sub '));
        return {leaf: await sub.issue(n('leaf'), {subject: '/O=Good/CN=leaf'}), chain: [sub, int], anchor: root};
      },
    },

    // --- issuer names compared per §7.1 ---
    {
      rule: '§7.1 issuer matching',
      name: 'CA subject PrintableString, leaf issuer the same name as UTF8String in other case and spacing',
      expected: 'ok',
      build: async () => {
        const r = await OpensslCa.createRoot(tmp, n('Printable Root '), {subject: '/O=Example Org/CN=Example CA', stringMask: 'nombstr'});
        const twin = await r.twin('/O=EXAMPLE   org/CN=example ca');
        return {leaf: await twin.issue(n('leaf')), chain: [], anchor: r};
      },
    },
    {
      rule: '§7.1 issuer matching',
      name: 'CRL whose issuer is the CA name as UTF8String in other case and spacing: loaded, leaf good',
      expected: 'ok',
      build: async () => {
        const r = await OpensslCa.createRoot(tmp, n('Printable Root '), {subject: '/O=Example Org/CN=Example CA', stringMask: 'nombstr'});
        const leaf = await r.issue(n('leaf'));
        const twin = await r.twin('/O=EXAMPLE   org/CN=example ca');
        return {leaf, chain: [], anchor: r, crls: [await twin.gencrl()]};
      },
    },
    {
      rule: '§7.1 issuer matching',
      name: 'CRL whose issuer is the CA name as UTF8String in other case and spacing: leaf revoked',
      expected: 'AUTH_CERT_REVOKED',
      build: async () => {
        const r = await OpensslCa.createRoot(tmp, n('Printable Root '), {subject: '/O=Example Org/CN=Example CA', stringMask: 'nombstr'});
        const leaf = await r.issue(n('leaf'));
        await r.revoke(leaf);
        const twin = await r.twin('/O=EXAMPLE   org/CN=example ca');
        return {leaf, chain: [], anchor: r, crls: [await twin.gencrl()]};
      },
    },
    // --- issuingDistributionPoint scopes (§5.2.5, §6.3.3 (b)); delta and indirect CRLs refused ---
    ...idpRows(),

    {
      rule: 'CRL',
      name: 'baseline: CRLs of root and intermediate, leaf revoked',
      expected: 'AUTH_CERT_REVOKED',
      build: async () => {
        const int = await root.createIntermediate(n('Int '));
        const leaf = await int.issue(n('leaf'));
        await int.revoke(leaf);
        return {leaf, chain: [int], anchor: root, crls: [await root.gencrl(), await int.gencrl()]};
      },
    },
  ];

  /** A root CRL and an intermediate whose CRL carries `idp` (openssl issuingDistributionPoint section lines). */
  function idpCase(o: {idp: string[]; leafDp?: string; revoke?: boolean; reasonsOnly?: boolean}): () => Promise<Case> {
    return async () => {
      const int = await root.createIntermediate(n('IDP Int '));
      const leaf = await int.issue(n('leaf'), o.leafDp ? {crlUrl: o.leafDp} : {});
      if (o.revoke) await int.revoke(leaf);
      const crl = await int.gencrl({crlExtensions: ['issuingDistributionPoint = critical,@idp', '[idp]', ...o.idp]});
      return {leaf, chain: [int], anchor: root, crls: [await root.gencrl(), crl]};
    };
  }
  function idpRows(): Row[] {
    const DP = 'http://crl.test.example/part-1.crl';
    return [
      {
        rule: 'IDP scope',
        name: 'distributionPoint matches the leaf CRL DP, not revoked',
        expected: 'ok',
        build: idpCase({idp: [`fullname = URI:${DP}`], leafDp: DP}),
      },
      {
        rule: 'IDP scope',
        name: 'distributionPoint matches the leaf CRL DP, revoked',
        expected: 'AUTH_CERT_REVOKED',
        build: idpCase({idp: [`fullname = URI:${DP}`], leafDp: DP, revoke: true}),
      },
      {
        rule: 'IDP scope',
        name: 'distributionPoint is another partition: the leaf is outside every CRL (unknown)',
        expected: 'AUTH_REVOCATION_UNKNOWN',
        build: idpCase({idp: ['fullname = URI:http://crl.test.example/part-2.crl'], leafDp: DP}),
      },
      {
        rule: 'IDP scope',
        name: 'distributionPoint present, leaf without CRL DP: outside (unknown)',
        expected: 'AUTH_REVOCATION_UNKNOWN',
        build: idpCase({idp: [`fullname = URI:${DP}`]}),
      },
      {rule: 'IDP scope', name: 'onlyContainsUserCerts covers a leaf', expected: 'ok', build: idpCase({idp: ['onlyuser = TRUE']})},
      {
        rule: 'IDP scope',
        name: 'onlyContainsCACerts does not cover a leaf (unknown)',
        expected: 'AUTH_REVOCATION_UNKNOWN',
        build: idpCase({idp: ['onlyCA = TRUE']}),
      },
      {
        rule: 'IDP scope',
        name: 'onlySomeReasons: not listed proves nothing (unknown)',
        expected: 'AUTH_REVOCATION_UNKNOWN',
        build: idpCase({idp: ['onlysomereasons = keyCompromise']}),
      },
      {
        rule: 'IDP scope',
        name: 'onlyContainsUserCerts root CRL does not cover the intermediate (unknown)',
        expected: 'AUTH_REVOCATION_UNKNOWN',
        build: async () => {
          const int = await root.createIntermediate(n('IDP Int '));
          const leaf = await int.issue(n('leaf'));
          const rootCrl = await root.gencrl({crlExtensions: ['issuingDistributionPoint = critical,@idp', '[idp]', 'onlyuser = TRUE']});
          return {leaf, chain: [int], anchor: root, crls: [rootCrl, await int.gencrl()]};
        },
      },
      {
        rule: 'delta CRL',
        name: 'a delta CRL (deltaCRLIndicator) is refused with its own code',
        expected: 'CRL_DELTA_UNSUPPORTED',
        localPolicy: {
          openssl: 'ok',
          why: 'OpenSSL 3.0 without -use_deltas used the delta as if it were complete; the project refuses a delta CRL at load rather than read a partial list as complete',
        },
        build: async () => {
          const int = await root.createIntermediate(n('Delta Int '));
          const leaf = await int.issue(n('leaf'));
          return {
            leaf,
            chain: [int],
            anchor: root,
            crls: [await root.gencrl(), await int.gencrl({crlExtensions: ['2.5.29.27 = critical,ASN1:INTEGER:1']})],
          };
        },
      },
      {
        rule: 'indirect CRL',
        name: 'an indirect CRL is refused with its own code',
        expected: 'CRL_INDIRECT_UNSUPPORTED',
        build: idpCase({idp: ['indirectCRL = TRUE']}),
      },
    ];
  }

  for (const row of rows) {
    it(`${row.rule}: ${row.name} -> ${row.expected}${row.localPolicy ? ` (OpenSSL: ${row.localPolicy.openssl}, local policy)` : ''}`, async () => {
      const c = await row.build();
      const [project, openssl] = await Promise.all([projectVerdict(c), opensslVerify(tmp, c)]);
      assert.equal(project.verdict, row.expected, `project: ${project.detail}`);
      const expectedOpenssl = row.localPolicy?.openssl ?? (row.expected === 'ok' ? 'ok' : 'refused');
      assert.equal(openssl.verdict, expectedOpenssl, `openssl verify: ${openssl.output}`);
    });
  }

  it('a violated subtree is named in the AUTH_CHAIN_INVALID detail', async () => {
    const c = await leafUnder(await constrained('permitted;DNS:good.example'), {san: 'DNS:evil.example'});
    const r = await projectVerdict(c);
    assert.equal(r.verdict, 'AUTH_CHAIN_INVALID');
    assert.match(r.detail, /name constraints: .*dNSName "evil\.example" is not within permitted subtree\(s\) dNSName:"good\.example"/);
  });
});
