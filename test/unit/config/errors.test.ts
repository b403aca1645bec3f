import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {AppError, ERROR_CODES, toAppError} from '../../../src/errors';
import {renderErrorsDoc} from '../../../src/tools/errors-doc';

describe('errors: catalog (unit)', () => {
  it('docs/errors.md documents exactly the codes in src/errors.ts (npm run docs:errors)', () => {
    const doc = readFileSync(path.resolve(__dirname, '..', '..', '..', '..', 'docs', 'errors.md'), 'utf8');
    assert.equal(doc, renderErrorsDoc());
  });

  it('every code has a 4xx/5xx status (or 200 for log-only codes) and a doc line', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      assert.ok(spec.doc.length > 10, code);
      assert.ok(spec.status === 200 || (spec.status >= 400 && spec.status < 600), code);
    }
  });

  it('serialises to code and message only, never details or stack', () => {
    const e = new AppError('AUTH_CERT_REVOKED', 'client certificate refused', {serial: 'ABC', secret: 'x'});
    assert.deepEqual(JSON.parse(JSON.stringify(e)), {error: {code: 'AUTH_CERT_REVOKED', message: 'client certificate refused'}});
    assert.equal(e.statusCode, 401);
  });

  it('maps unknown throwables to INTERNAL_ERROR without their message', () => {
    const e = toAppError(new Error('ENOENT /etc/secret/path'));
    assert.equal(e.code, 'INTERNAL_ERROR');
    assert.ok(!e.message.includes('/etc/secret'));
  });

  it('start-up codes carry exit code 78 (EX_CONFIG)', () => {
    assert.equal(new AppError('CONFIG_INVALID', 'x').exitCode, 78);
    assert.equal(new AppError('TLS_KEY_WEAK', 'x').exitCode, 78);
  });
});
