/**
 * auditLine / audit(): what an audit line may carry. Table-driven over the pure function, then
 * through a real pino logger (the sink is a capturing stream), including the level gate and a
 * property test that no value stored under a sensitive field name survives at any depth.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {audit, AUDIT_SENSITIVE_FIELDS, auditLine, AuditRecord, createLogger, isoTimeAt} from '../../../src/logging/logger';

function givenCapturingLogger(level = 'info'): {lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger>} {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({level, destination: {write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>)}});
  return {lines, logger};
}

const base: AuditRecord = {event: 'auth.decision', decision: 'allow'};

describe('logging: auditLine (unit)', () => {
  const cases: {name: string; record: AuditRecord; expect: Record<string, unknown>}[] = [
    {
      name: 'flat record kept as is, audit flag first',
      record: {...base, code: 'X', n: 1, ok: true, nil: null},
      expect: {audit: true, event: 'auth.decision', decision: 'allow', code: 'X', n: 1, ok: true, nil: null},
    },
    {name: 'undefined fields dropped', record: {...base, subject: undefined, serial: 'AB'}, expect: {audit: true, ...base, serial: 'AB'}},
    {
      name: 'top-level sensitive names censored',
      record: {...base, password: 'p', token: 't', key: 'k'},
      expect: {audit: true, ...base, password: '[REDACTED]', token: '[REDACTED]', key: '[REDACTED]'},
    },
    {
      name: 'names compared without case',
      record: {...base, Authorization: 'Bearer x', privateKey: 'pk'},
      expect: {audit: true, ...base, Authorization: '[REDACTED]', privateKey: '[REDACTED]'},
    },
    {
      name: 'nested sensitive names censored at any depth',
      record: {...base, tls: {opts: {cert: 'c', ca: ['x']}}, headers: {cookie: 'c', accept: '*/*'}},
      expect: {audit: true, ...base, tls: {opts: {cert: '[REDACTED]', ca: '[REDACTED]'}}, headers: {cookie: '[REDACTED]', accept: '*/*'}},
    },
    {
      name: 'byte buffers censored whatever the name',
      record: {...base, der: Buffer.from([1, 2, 3]), raw: new Uint8Array(2)},
      expect: {audit: true, ...base, der: '[REDACTED]', raw: '[REDACTED]'},
    },
    {
      name: 'dates as ISO strings, bigints as strings',
      record: {...base, at: new Date(0), serialNo: 10n},
      expect: {audit: true, ...base, at: '1970-01-01T00:00:00.000Z', serialNo: '10'},
    },
    {name: 'functions dropped', record: {...base, f: () => 1}, expect: {audit: true, ...base}},
    {
      name: 'errors reduced to name and code',
      record: {...base, err: Object.assign(new Error('secret detail'), {code: 'E1'})},
      expect: {audit: true, ...base, err: {name: 'Error', code: 'E1'}},
    },
    {
      name: 'deep nesting truncated',
      record: {...base, a: {b: {c: {d: {e: {f: 1}}}}}},
      expect: {audit: true, ...base, a: {b: {c: {d: {e: '[TRUNCATED]'}}}}},
    },
    {
      name: 'long arrays cut with a count',
      record: {...base, list: Array.from({length: 66}, (_, i) => i)},
      expect: {audit: true, ...base, list: [...Array.from({length: 64}, (_, i) => i), '[2 more]']},
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(auditLine(c.record), c.expect);
    });
  }

  it('no value under a sensitive name survives, at any depth (property)', () => {
    const secret = 'S3CRET-VALUE';
    const names = [...AUDIT_SENSITIVE_FIELDS].flatMap(n => [n, n.toUpperCase()]);
    const tree = fc.letrec(tie => ({
      node: fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.string({maxLength: 6})), tie('value'), {maxKeys: 4}),
      value: fc.oneof({depthSize: 'small'}, fc.constant(secret), fc.integer(), tie('node'), fc.array(tie('value'), {maxLength: 3})),
    }));
    fc.assert(
      fc.property(tree.node, fc.constantFrom(...names), (extra, name) => {
        const record = {...base, ...extra, [name]: secret, nested: {[name]: {deeper: secret}}} as AuditRecord;
        const text = JSON.stringify(auditLine(record));
        // A secret may only appear where no sensitive name is on its path: rebuild the check.
        const leaks = (v: unknown, underSensitive: boolean): boolean => {
          if (v === secret) return underSensitive;
          if (Array.isArray(v)) return v.some(x => leaks(x, underSensitive));
          if (v && typeof v === 'object')
            return Object.entries(v).some(([k, x]) => leaks(x, underSensitive || AUDIT_SENSITIVE_FIELDS.has(k.toLowerCase())));
          return false;
        };
        assert.equal(leaks(JSON.parse(text), false), false, text);
        assert.ok(!text.includes(`"${name}":"${secret}"`), text);
      }),
      {numRuns: 300, seed: 20261129},
    );
  });
});

describe('audit() through pino (unit)', () => {
  it('writes allow at info and deny at warn, one line each, with the audit flag', () => {
    const {lines, logger} = givenCapturingLogger('info');
    audit(logger, {...base, subject: 'CN=a'});
    audit(logger, {event: 'guard.decision', decision: 'deny', code: 'GUARD_DENIED_PATH'});
    assert.equal(lines.length, 2);
    assert.deepEqual([lines[0].level, lines[0].audit, lines[0].msg, lines[0].subject], ['info', true, 'auth.decision', 'CN=a']);
    assert.deepEqual([lines[1].level, lines[1].code], ['warn', 'GUARD_DENIED_PATH']);
  });

  it('keeps the logger bindings (name, pid) and censors nested secrets', () => {
    const {lines, logger} = givenCapturingLogger('info');
    audit(logger, {...base, headers: {authorization: 'Bearer zzz'}, password: 'hunter2'});
    assert.equal(lines[0].name, 'hardened-mtls');
    assert.equal(lines[0].pid, process.pid);
    assert.deepEqual(lines[0].headers, {authorization: '[REDACTED]'});
    assert.equal(lines[0].password, '[REDACTED]');
    assert.ok(!JSON.stringify(lines).includes('zzz'));
  });

  it('follows the level of the logger: warn drops allow lines, silent drops all', () => {
    const warn = givenCapturingLogger('warn');
    audit(warn.logger, base);
    audit(warn.logger, {...base, decision: 'deny', code: 'AUTH_CERT_REVOKED'});
    assert.deepEqual(
      warn.lines.map(l => l.code),
      ['AUTH_CERT_REVOKED'],
    );
    const silent = givenCapturingLogger('silent');
    audit(silent.logger, {...base, decision: 'deny'});
    assert.equal(silent.lines.length, 0);
    // A level changed after the first line is followed.
    warn.logger.level = 'info';
    audit(warn.logger, base);
    assert.equal(warn.lines.length, 2);
  });
});

describe('logging: isoTimeAt, against Date.toISOString (unit)', () => {
  it('equals pino.stdTimeFunctions.isoTime for any millisecond (0001-9999)', () => {
    fc.assert(
      fc.property(fc.integer({min: -62135596800000, max: 253402300799999}), ms => {
        assert.equal(isoTimeAt(ms), `,"time":"${new Date(ms).toISOString()}"`);
      }),
      {numRuns: 5000},
    );
    // Consecutive calls within and across seconds (the cached prefix).
    for (const ms of [1765022400000, 1765022400001, 1765022400999, 1765022401000, 1765022399999, 0, 999, 1000]) {
      assert.equal(isoTimeAt(ms), `,"time":"${new Date(ms).toISOString()}"`);
    }
  });

  it('a prepared line is the line pino writes for the same record', () => {
    const written: string[] = [];
    const logger = createLogger({level: 'info', destination: {write: (s: string) => void written.push(s)}}).child({component: 'x'});
    const record: AuditRecord = {event: 'authz.decision', decision: 'deny', code: 'C', subject: 'CN="q\\u2028"', n: 1, nested: {token: 't'}};
    audit(logger, record);
    logger.warn(auditLine(record), record.event);
    const [ours, pinos] = written.map(l => JSON.parse(l) as Record<string, unknown>);
    delete ours.time;
    delete pinos.time;
    assert.deepEqual(ours, pinos);
    assert.equal(written[0].replace(/"time":"[^"]*"/, ''), written[1].replace(/"time":"[^"]*"/, ''));
  });
});
