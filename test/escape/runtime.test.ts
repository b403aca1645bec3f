/**
 * Runtime cases: the child-process probe's judgement (table over /proc/self/status texts), the
 * mapping of posture findings onto RT cases, and fail-closed handling of probes that cannot run.
 */
import assert from 'node:assert/strict';
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {loadCatalog} from '../../src/escape/catalog';
import {
  evaluateChildStatus,
  observeRuntime,
  parseProbeOutput,
  probeChildProcess,
  RuntimeProbeOutput,
  runRuntimeCases,
} from '../../src/escape/runtime';
import {judge} from '../../src/escape/verdict';
import type {SuiteResult} from '../../src/escape/runner';
import {REPORT_FILES} from '../../src/escape/report';
import {assertSandboxPrerequisites} from '../../src/posture/sandbox/sandbox';
import {givenTempDir} from '../fixtures/pki';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'escape', 'cli.js');

const HARDENED = [
  'Name:\tnode',
  'Uid:\t10001\t10001\t10001\t10001',
  'Gid:\t10001\t10001\t10001\t10001',
  'CapInh:\t0000000000000000',
  'CapPrm:\t0000000000000000',
  'CapEff:\t0000000000000000',
  'CapBnd:\t0000000000000000',
  'CapAmb:\t0000000000000000',
  'NoNewPrivs:\t1',
  'Seccomp:\t2',
  'Seccomp_filters:\t1',
].join('\n');

const bad = (line: string, replacement: string) => HARDENED.replace(new RegExp(`^${line}:.*$`, 'm'), replacement);

describe('escape: runtime cases (escape)', () => {
  const cases = loadCatalog().cases.filter(c => c.vector === 'runtime');

  const table: Array<[string, string, number, number, string[]]> = [
    ['hardened child', HARDENED, 10001, 10001, []],
    ['root uid', bad('Uid', 'Uid:\t0\t0\t0\t0'), 0, 10001, ['child-uid-non-root']],
    ['saved uid 0', bad('Uid', 'Uid:\t10001\t10001\t0\t10001'), 10001, 10001, ['child-uid-non-root']],
    ['root gid', bad('Gid', 'Gid:\t0\t0\t0\t0'), 10001, 0, ['child-gid-non-root']],
    ['effective capabilities', bad('CapEff', 'CapEff:\t0000000000000400'), 10001, 10001, ['child-capeff-empty']],
    ['permitted capabilities', bad('CapPrm', 'CapPrm:\t000001ffffffffff'), 10001, 10001, ['child-capprm-empty']],
    ['ambient capabilities', bad('CapAmb', 'CapAmb:\t0000000000000400'), 10001, 10001, ['child-capamb-empty']],
    ['no_new_privs off', bad('NoNewPrivs', 'NoNewPrivs:\t0'), 10001, 10001, ['child-no-new-privs']],
    ['seccomp off', bad('Seccomp', 'Seccomp:\t0'), 10001, 10001, ['child-seccomp-filter']],
    ['seccomp strict mode is not the filter', bad('Seccomp', 'Seccomp:\t1'), 10001, 10001, ['child-seccomp-filter']],
    [
      'fields missing fail closed',
      'Name:\tnode',
      10001,
      10001,
      [
        'child-uid-non-root',
        'child-gid-non-root',
        'child-capeff-empty',
        'child-capprm-empty',
        'child-capamb-empty',
        'child-no-new-privs',
        'child-seccomp-filter',
      ],
    ],
  ];
  for (const [name, status, uid, gid, failing] of table) {
    it(`child probe: ${name}`, () => {
      const f = evaluateChildStatus(status, uid, gid);
      assert.equal(f.length, 7);
      assert.deepEqual(
        f.filter(x => !x.ok).map(x => x.id),
        failing,
      );
    });
  }

  it('spawns a real child (process.execPath -e) and reports what it sees', async () => {
    const r = await probeChildProcess();
    const uid = r.findings.find(f => f.id === 'child-uid-non-root')!;
    assert.equal(uid.ok, process.getuid!() !== 0);
    assert.match(uid.detail, new RegExp(`uid ${process.getuid!()}`));
  });

  it('maps posture findings onto RT cases through `covers` (low severity is advisory)', () => {
    const out: RuntimeProbeOutput = {
      tool: 'escape-runtime-probe',
      posture: {
        compliant: false,
        findings: [
          {id: 'user-non-root', ok: true, severity: 'high', detail: 'uid 10001', covers: ['RT-001']},
          {id: 'no-new-privs', ok: false, severity: 'high', detail: 'NoNewPrivs 0', covers: ['RT-004']},
          {id: 'pid-count', ok: false, severity: 'low', detail: '80 processes', covers: ['RT-015']},
          {id: 'pid-namespace-private', ok: true, severity: 'high', detail: 'own pid ns', covers: ['RT-015']},
        ],
      },
      child: {findings: evaluateChildStatus(HARDENED, 10001, 10001)},
    };
    const obs = observeRuntime(cases, out, 'test');
    const verdict = (id: string) =>
      judge(
        cases.find(c => c.id === id)!,
        obs.get(id)!,
        {strictCodes: true},
      ).status;
    assert.equal(verdict('RT-001'), 'passed');
    assert.equal(verdict('RT-004'), 'failed');
    assert.equal(verdict('RT-015'), 'passed');
    assert.equal(verdict('RT-002'), 'failed', 'no finding answers it: fail closed');
    assert.equal(verdict('HM-RT-001'), 'passed');
  });

  it('RT-013/RT-014: an unproven posture finding is replaced by the syscall attempts; any attempt that works fails the case', () => {
    const unproven = (id: string, covers: string) => ({
      id,
      ok: false,
      status: 'unproven',
      severity: 'high',
      detail: 'filter rules unreadable',
      covers: [covers],
    });
    const base = (syscalls: RuntimeProbeOutput['syscalls']): RuntimeProbeOutput => ({
      tool: 'escape-runtime-probe',
      posture: {compliant: false, findings: [unproven('userns-restricted', 'RT-013'), unproven('ptrace-restricted', 'RT-014')]},
      child: {findings: evaluateChildStatus(HARDENED, 10001, 10001)},
      syscalls,
    });
    const verdict = (out: RuntimeProbeOutput, id: string) =>
      judge(
        cases.find(c => c.id === id)!,
        observeRuntime(cases, out, 'test').get(id)!,
        {strictCodes: true},
      );
    const blocked = {
      attempts: [
        {name: 'unshare(CLONE_NEWUSER)', covers: 'RT-013', errno: 1, error: 'EPERM'},
        {name: 'clone3', covers: 'RT-013', errno: 38, error: 'ENOSYS'},
        {name: 'ptrace(PTRACE_SEIZE, 1)', covers: 'RT-014', errno: 1, error: 'EPERM'},
        {name: 'keyctl', covers: 'RT-014', errno: 1, error: 'EPERM'},
      ],
    };
    assert.equal(verdict(base(blocked), 'RT-013').status, 'passed');
    assert.equal(verdict(base(blocked), 'RT-014').status, 'passed');
    const obs = observeRuntime(cases, base(blocked), 'test').get('RT-014')!;
    assert.ok(obs.kind === 'runtime' && obs.findings.some(f => f.detail === 'keyctl -> EPERM'), 'the real errno is recorded');
    // podman's default profile: unshare(CLONE_NEWUSER) works, keyctl works
    const open = {
      attempts: blocked.attempts.map(a => (a.name === 'clone3' || a.name === 'ptrace(PTRACE_SEIZE, 1)' ? a : {...a, errno: 0, error: ''})),
    };
    assert.equal(verdict(base(open), 'RT-013').status, 'failed');
    assert.equal(verdict(base(open), 'RT-014').status, 'failed');
    // an argument error (EBADF) means the call reached the kernel: not blocked
    assert.equal(verdict(base({attempts: [{name: 'setns', covers: 'RT-013', errno: 9, error: 'EBADF'}]}), 'RT-013').status, 'failed');
    // no probe mounted: the unproven finding stays and fails (never passes on the assumption)
    assert.equal(verdict(base({error: 'the syscall probe is not mounted'}), 'RT-013').status, 'failed');
    assert.equal(verdict(base(undefined), 'RT-014').status, 'failed');
    assert.throws(() => parseProbeOutput(JSON.stringify({...base(undefined), syscalls: {attempts: [{name: 'x'}]}})));
  });

  it('a probe that cannot run, or prints something else, fails every runtime case', async () => {
    for (const command of [[process.execPath, '-e', 'process.stdout.write("hello")'], ['/nonexistent/probe']]) {
      const obs = await runRuntimeCases(cases, {mode: 'exec', command});
      for (const c of cases) assert.equal(judge(c, obs.get(c.id)!, {strictCodes: true}).status, 'failed', c.id);
    }
    assert.throws(() => parseProbeOutput('{"tool":"escape-runtime-probe","posture":{"findings":[{"id":1}]},"child":{"findings":[]}}'));
    assert.throws(() => parseProbeOutput('[]'));
  });

  it('exec mode reads the probe JSON a command prints (the container tier runs runtime-probe.js this way)', async () => {
    const out: RuntimeProbeOutput = {
      tool: 'escape-runtime-probe',
      posture: {error: 'posture check unavailable'},
      child: {findings: evaluateChildStatus(HARDENED, 10001, 10001)},
    };
    const obs = await runRuntimeCases(cases, {
      mode: 'exec',
      command: [process.execPath, '-e', `process.stdout.write(${JSON.stringify(JSON.stringify(out))}); process.exitCode = 1`],
    });
    assert.equal(
      judge(
        cases.find(c => c.id === 'HM-RT-001')!,
        obs.get('HM-RT-001')!,
        {strictCodes: true},
      ).status,
      'passed',
    );
    assert.equal(
      judge(
        cases.find(c => c.id === 'RT-003')!,
        obs.get('RT-003')!,
        {strictCodes: true},
      ).status,
      'failed',
    );
  });

  it('without a way into the target, runtime cases are not applicable', async () => {
    const obs = await runRuntimeCases(cases, {mode: 'none'});
    for (const c of cases) assert.equal(judge(c, obs.get(c.id)!, {strictCodes: true}).status, 'not-applicable');
  });

  describe('sandbox mode (the default for the local instance)', function () {
    this.timeout(180_000);

    it('runs runtime-probe.js in the hardened bubblewrap sandbox: every runtime case passes there', async () => {
      assertSandboxPrerequisites(); // a missing tool fails this test, never skips it
      const obs = await runRuntimeCases(cases, {mode: 'sandbox'});
      const failed = cases.map(c => ({c, v: judge(c, obs.get(c.id)!, {strictCodes: true})})).filter(x => x.v.status !== 'passed');
      assert.deepEqual(
        failed.map(x => `${x.c.id}: ${x.v.reason}`),
        [],
      );
      const o = obs.get('RT-001')!;
      assert.ok(o.kind === 'runtime' && /^sandbox \(bubblewrap/.test(o.where));
    });

    it('without bubblewrap, `npm run escape` fails every runtime case (exit 1) and says how to install it', async () => {
      // A PATH with every tool the sandbox needs except bwrap.
      const bin = givenTempDir('escape-nobwrap-');
      for (const tool of ['sh', 'setpriv', 'unshare', 'nsenter', 'ldd', 'openssl']) {
        const p = execFileSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'}).trim();
        fs.symlinkSync(p, path.join(bin, tool));
      }
      const out = path.join(bin, 'out');
      const r = await new Promise<{code: number | null; stdout: string}>(resolve => {
        const c = spawn(process.execPath, [CLI, '--only', 'runtime-posture', '--out', out, '--report', 'json'], {
          env: {...process.env, PATH: bin},
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        c.on('close', code => resolve({code, stdout}));
      });
      assert.equal(r.code, 1, r.stdout.slice(-3000));
      const j = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.json), 'utf8')) as SuiteResult;
      const rt = j.results.filter(x => x.vector === 'runtime');
      assert.equal(rt.length, cases.length);
      assert.deepEqual(
        rt.filter(x => x.status !== 'failed').map(x => x.id),
        [],
        'never passed or skipped',
      );
      for (const x of rt) assert.match(x.reason, /missing bwrap.*install-system-deps\.sh/);
      assert.match(r.stdout, /FAIL RT-001 .*install bubblewrap/);
    });
  });
});
