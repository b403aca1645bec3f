/**
 * .ci/install-system-deps.sh, which `npm test` runs first (pretest): on a machine where a tool is
 * missing it installs the Debian package when it runs as root, and otherwise fails loudly with
 * the command to run; it never lets the tests skip. The real script runs under bash with a PATH
 * made for each case (a temp dir of symlinks to the machine's real tools minus the missing one);
 * "not root" is a real drop to uid 65534 with setpriv.
 */
import assert from 'node:assert/strict';
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {givenTempDir} from '../../fixtures/pki';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const SCRIPT = path.join(ROOT, '.ci', 'install-system-deps.sh');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {scripts: Record<string, string>};

/** Tools of tier `test`, and what the script itself runs. */
const TEST_TOOLS = ['bwrap', 'setpriv', 'unshare', 'nsenter', 'taskset', 'openssl', 'curl', 'python3', 'ldd', 'getconf', 'tar', 'script', 'cc'];
const SCRIPT_TOOLS = ['id', 'sort'];

/** As root (CI), a real drop to uid 65534; otherwise the test already runs as a non-root user. */
const NOT_ROOT = process.getuid?.() === 0 ? 65534 : undefined;

/** The system's copy of a tool (not a per-user shim, e.g. pyenv's, that uid 65534 cannot run). */
function which(tool: string): string {
  const system = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map(d => path.join(d, tool)).find(p => fs.existsSync(p));
  if (system) return system;
  return execFileSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'}).trim();
}

/** A PATH directory holding the machine's tools, except `without`, plus `extra` scripts. */
function givenPathWithout(without: string[], extra: Record<string, string> = {}): string {
  const bin = givenTempDir('deps-path-');
  fs.chmodSync(bin, 0o755);
  for (const tool of [...TEST_TOOLS, ...SCRIPT_TOOLS]) {
    if (!without.includes(tool)) fs.symlinkSync(which(tool), path.join(bin, tool));
  }
  for (const [name, body] of Object.entries(extra)) fs.writeFileSync(path.join(bin, name), body, {mode: 0o755});
  return bin;
}

function run(bin: string, args: string[], asUser?: number): {status: number | null; stdout: string; stderr: string} {
  const bash = which('bash');
  const argv =
    asUser === undefined
      ? [bash, SCRIPT, ...args]
      : [which('setpriv'), `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', bash, SCRIPT, ...args];
  const r = spawnSync(argv[0], argv.slice(1), {env: {PATH: bin}, encoding: 'utf8', timeout: 30_000});
  if (r.error) throw r.error;
  return {status: r.status, stdout: r.stdout, stderr: r.stderr};
}

/** A recording apt-get: logs its arguments; `install` puts the named tools on PATH (or not). */
function fakeAptGet(bin: string, log: string, provides: Record<string, string>, exitCode = 0): string {
  const lines = ['#!/bin/sh', `echo "$*" >> ${log}`, 'case "$1" in install)'];
  for (const [tool, target] of Object.entries(provides)) lines.push(`  ${which('ln')} -sf ${target} ${path.join(bin, tool)}`);
  lines.push(';; esac', `exit ${exitCode}`, '');
  return lines.join('\n');
}

describe('ci: install-system-deps.sh (integration)', function () {
  this.timeout(60_000);

  it('npm test runs it (tier test) before building, and the container tier runs it (tier container)', () => {
    assert.match(PKG.scripts.pretest, /bash \.ci\/install-system-deps\.sh test &&/);
    assert.match(PKG.scripts['test:container'], /bash \.ci\/install-system-deps\.sh container &&/);
  });

  it('everything present: exit 0, nothing installed', () => {
    const r = run(givenPathWithout([]), ['test']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /system packages \(test\): all present/);
  });

  it('not root and bwrap missing: exit 1, names the tool, its package and the command', () => {
    const bin = givenPathWithout(['bwrap']);
    const r = run(bin, ['test'], NOT_ROOT);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /missing tools the tests need: bwrap \(Debian packages: bubblewrap\); this is not root/);
    assert.match(r.stderr, /sudo apt-get update && sudo apt-get install -y bubblewrap\n/);
  });

  it('root and bwrap + curl missing: apt-get update, then apt-get install of exactly their packages; exit 0', () => {
    const dir = givenTempDir('deps-apt-');
    const log = path.join(dir, 'apt.log');
    const bin = givenPathWithout(['bwrap', 'curl']);
    fs.writeFileSync(path.join(bin, 'apt-get'), fakeAptGet(bin, log, {bwrap: which('bwrap'), curl: which('curl')}), {mode: 0o755});
    const r = run(bin, ['test']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /bwrap curl missing; installing the Debian packages bubblewrap curl/);
    assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['update -qq', 'install -y -qq bubblewrap curl']);
  });

  it('root, but the tool is still missing after apt-get install: exit 1 with the reason', () => {
    const dir = givenTempDir('deps-apt-');
    const log = path.join(dir, 'apt.log');
    const bin = givenPathWithout(['python3']);
    fs.writeFileSync(path.join(bin, 'apt-get'), fakeAptGet(bin, log, {}), {mode: 0o755});
    const r = run(bin, ['test']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing tools the tests need: python3 \(Debian packages: python3\); they are still missing after apt-get install/);
  });

  it('root, apt-get fails: exit 1 with the reason', () => {
    const dir = givenTempDir('deps-apt-');
    const bin = givenPathWithout(['openssl']);
    fs.writeFileSync(path.join(bin, 'apt-get'), fakeAptGet(bin, path.join(dir, 'apt.log'), {}, 100), {mode: 0o755});
    const r = run(bin, ['test']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /apt-get update failed/);
  });

  it('root without apt-get: exit 1, says so', () => {
    const r = run(givenPathWithout(['tar']), ['test']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing tools the tests need: tar \(Debian packages: tar\); there is no apt-get/);
  });

  it('tier container also needs podman and runc', () => {
    const r = run(givenPathWithout([]), ['container'], NOT_ROOT);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /podman/);
    assert.match(r.stderr, /runc/);
  });

  it('an unknown tier: exit 2', () => {
    assert.equal(run(givenPathWithout([]), ['nope']).status, 2);
  });
});
