import assert from 'node:assert/strict';
import {parseConfig} from '../../../src/config/config';
import {isAppError} from '../../../src/errors';
import type {PostureFinding, PostureReport} from '../../../src/posture';
import {formatBanner, formatPostureSummary} from '../../../src/startup-screen';

function finding(id: string, ok: boolean, severity: PostureFinding['severity'] = 'high', detail = `${id} detail`): PostureFinding {
  return {id, ok, status: ok ? 'pass' : 'fail', severity, detail, references: [], covers: []};
}

function report(findings: PostureFinding[]): PostureReport {
  const failed = findings.filter(f => !f.ok && f.severity !== 'low').map(f => f.id);
  return {compliant: failed.length === 0, findings, failed, unproven: []};
}

describe('start-up: the start-up screen (unit)', () => {
  describe('formatPostureSummary', () => {
    it('lists every failed check once, says it is expected on a developer machine and how to see details', () => {
      const text = formatPostureSummary(
        report([
          finding('user-non-root', false),
          finding('seccomp-filter', false, 'medium'),
          finding('no-new-privs', true),
          finding('pid-count', false, 'low'),
        ]),
      );
      assert.match(text, /posture self-check: 2 of 4 checks fail here/);
      assert.deepEqual(
        [...text.matchAll(/^ {2}✗ (\S+)/gm)].map(m => m[1]),
        ['user-non-root', 'seccomp-filter'],
      );
      assert.match(text, /\(1 advisory: pid-count\)/);
      assert.match(text, /expected on a developer machine/);
      assert.match(text, /Details: npm run posture/);
      assert.doesNotMatch(text, /no-new-privs/);
    });

    const cases: Array<[string, PostureReport, RegExp]> = [
      ['compliant', report([finding('a', true), finding('b', true)]), /^posture: compliant, 2 checks passed\n$/],
      [
        'compliant with an advisory',
        report([finding('a', true), finding('pid-count', false, 'low')]),
        /^posture: compliant, 2 checks passed \(1 advisory: pid-count\)\n$/,
      ],
    ];
    for (const [name, r, expected] of cases) {
      it(`${name}: one line`, () => assert.match(formatPostureSummary(r), expected));
    }

    it('keeps each check on one line within the terminal width (long or multi-line details are cut)', () => {
      const text = formatPostureSummary(report([finding('caps-effective-empty', false, 'high', `CapEff ${'x'.repeat(300)}\nsecond line`)]), {
        columns: 80,
      });
      const line = text.split('\n').find(l => l.includes('caps-effective-empty'))!;
      assert.ok(line.length <= 80, line);
      assert.ok(line.endsWith('…'));
    });
  });

  it('formatBanner: URL and a curl line; paths with spaces or quotes are shell-quoted', () => {
    const text = formatBanner({url: 'https://127.0.0.1:8443', serverCa: 'certs/dev/ca bundle.crt', cert: "it's.crt", key: 'k.key'});
    assert.match(text, /hardened-mtls listening on https:\/\/127\.0\.0\.1:8443\n/);
    assert.ok(text.includes(`curl --cacert 'certs/dev/ca bundle.crt' --cert 'it'\\''s.crt' --key k.key https://127.0.0.1:8443/whoami`), text);
  });

  describe('PRINT_BANNER', () => {
    const prod = {
      NODE_ENV: 'production',
      TLS_CERT_FILE: '/c',
      TLS_KEY_FILE: '/k',
      TLS_CA_FILE: '/ca',
      MTLS_ALLOWED_SUBJECTS: 'cn:x',
      MTLS_REVOCATION: 'none',
    };
    const cases: Array<[string, Record<string, string>, boolean]> = [
      ['development default', {}, true],
      ['production default', prod, false],
      ['false in development', {PRINT_BANNER: 'false'}, false],
      ['true in production', {...prod, PRINT_BANNER: 'true'}, true],
    ];
    for (const [name, env, expected] of cases) {
      it(`${name}: ${expected}`, () => assert.equal(parseConfig(env).printBanner, expected));
    }
    it('anything but true/false/1/0 is CONFIG_INVALID', () => {
      assert.throws(
        () => parseConfig({PRINT_BANNER: 'yes'}),
        e => isAppError(e) && e.code === 'CONFIG_INVALID' && e.details?.variable === 'PRINT_BANNER',
      );
    });
  });
});
