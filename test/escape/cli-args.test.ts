/** CLI argument parsing (pure): options map onto RunOptions; bad input is a UsageError. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {parseEscapeArgs, splitCommand, UsageError} from '../../src/escape/cli';
import {givenTempDir} from '../fixtures/pki';

describe('escape: CLI arguments (escape)', () => {
  const dir = givenTempDir('escape-args-');
  const f = (n: string) => {
    const p = path.join(dir, n);
    fs.writeFileSync(p, 'x');
    return p;
  };
  const ca = f('ca.crt');
  const cert = f('c.crt');
  const key = f('c.key');

  it('defaults: local target, strict codes, all three reports into ./escape-report', () => {
    const a = parseEscapeArgs([]);
    assert.equal(a.run.target, undefined);
    assert.equal(a.run.strictCodes, true);
    assert.deepEqual(a.reports, ['junit', 'json', 'html']);
    assert.equal(a.outDir, path.resolve('escape-report'));
  });

  it('a remote target with its files, categories, cases, reports, spec and runtime command', () => {
    const a = parseEscapeArgs([
      '--target',
      'https://h.example:8443/',
      `--ca=${ca}`,
      '--cert',
      cert,
      '--key',
      key,
      '--scenario-certs',
      dir,
      '--only',
      'mtls,ssrf-dns',
      '--only',
      'host-path',
      '--case',
      'PT-001',
      '--report',
      'junit',
      '--report=html',
      '--out',
      dir,
      '--spec',
      'target',
      '--runtime-exec',
      `podman exec "my app" node /app/dist/src/escape/runtime-probe.js`,
      '--lenient-codes',
      '--servername',
      'h',
      '--concurrency',
      '4',
      '--timeout-ms',
      '5000',
      '--quiet',
    ]);
    assert.equal(a.run.target?.url, 'https://h.example:8443');
    assert.equal(a.run.target?.ca?.toString(), 'x');
    assert.equal(a.run.target?.scenarioCertsDir, dir);
    assert.equal(a.run.target?.servername, 'h');
    assert.deepEqual(a.run.categories, ['mtls', 'ssrf-dns', 'host-path']);
    assert.deepEqual(a.run.ids, ['PT-001']);
    assert.deepEqual(a.reports, ['junit', 'html']);
    assert.deepEqual(a.run.spec, {kind: 'target'});
    assert.deepEqual(a.run.runtime, {mode: 'exec', command: ['podman', 'exec', 'my app', 'node', '/app/dist/src/escape/runtime-probe.js']});
    assert.equal(a.run.strictCodes, false);
    assert.equal(a.run.concurrency, 4);
    assert.equal(a.run.timeoutMs, 5000);
    assert.equal(a.quiet, true);
    assert.deepEqual(parseEscapeArgs(['--spec', 'api.yaml']).run.spec, {kind: 'file', file: path.resolve('api.yaml')});
  });

  const bad: string[][] = [
    ['--only', 'nope'],
    ['--report', 'xml'],
    ['--target', 'http://h:1'],
    ['--target', 'https://h:1'],
    ['--target', 'https://h:1', '--cert', cert],
    ['--ca', ca],
    ['--scenario-certs', dir],
    ['--concurrency', '0'],
    ['--timeout-ms', 'x'],
    ['--out'],
    ['--bogus'],
    ['--out', 'a', '--out', 'b'],
    ['--runtime-exec', ' '],
    ['--help'],
    ['--runtime', 'container'],
    ['--runtime', 'exec:'],
    ['--runtime', 'exec: '],
    ['--runtime', 'sandbox', '--runtime-exec', 'x'],
    ['--target', 'https://h:1', '--cert', cert, '--key', key, '--runtime', 'sandbox'],
    ['--target', 'https://h:1', '--cert', cert, '--key', key, '--runtime', 'local'],
  ];
  for (const argv of bad) {
    it(`refuses ${argv.join(' ')}`, () => {
      assert.throws(() => parseEscapeArgs(argv), UsageError);
    });
  }

  it('--runtime: sandbox and local for the local instance, exec:COMMAND anywhere (the runner defaults to sandbox locally)', () => {
    assert.equal(parseEscapeArgs([]).run.runtime, undefined);
    assert.deepEqual(parseEscapeArgs(['--runtime', 'sandbox']).run.runtime, {mode: 'sandbox'});
    assert.deepEqual(parseEscapeArgs(['--runtime=local']).run.runtime, {mode: 'in-process'});
    assert.deepEqual(parseEscapeArgs(['--runtime', 'exec:podman exec "my app" node /app/dist/src/escape/runtime-probe.js']).run.runtime, {
      mode: 'exec',
      command: ['podman', 'exec', 'my app', 'node', '/app/dist/src/escape/runtime-probe.js'],
    });
    assert.deepEqual(
      parseEscapeArgs(['--target', 'https://h:1', '--cert', cert, '--key', key, '--runtime=exec:kubectl exec app -- node p.js']).run.runtime,
      {mode: 'exec', command: ['kubectl', 'exec', 'app', '--', 'node', 'p.js']},
    );
  });

  it('an unreadable --ca names the option', () => {
    assert.throws(
      () => parseEscapeArgs(['--target', 'https://h:1', '--ca', path.join(dir, 'missing'), '--cert', cert, '--key', key]),
      /--ca: cannot read .*ENOENT/,
    );
  });

  it('splits a command line with quotes, without a shell', () => {
    assert.deepEqual(splitCommand(`kubectl exec 'deploy/app' -- node "/app/x y.js"`), ['kubectl', 'exec', 'deploy/app', '--', 'node', '/app/x y.js']);
    assert.deepEqual(splitCommand('a $(rm -rf /) ;b'), ['a', '$(rm', '-rf', '/)', ';b']);
  });
});
