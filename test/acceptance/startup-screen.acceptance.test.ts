/**
 * The start-up screen. In development on a terminal (a real pseudo-terminal made by util-linux
 * `script`), the posture result is one readable summary instead of a JSON line, and its failed
 * checks are exactly those `npm run posture` reports (the posture CLI, run on the same machine,
 * is the oracle). Without a terminal the posture decision stays a JSON audit line. PRINT_BANNER=false
 * (the image, compose, the Deployment) prints neither banner nor summary.
 */
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import path from 'node:path';
import {givenTempDir} from '../fixtures/pki';
import {baseEnv, ENTRY, givenService, PROJECT_ROOT} from '../fixtures/service';

/** Posture checks whose outcome depends on other processes or files on the machine, not on this process. */
const MACHINE_WIDE_CHECKS = [
  'env-no-secrets',
  'no-unix-sockets',
  'network-namespace-private',
  'no-setuid-binaries',
  'foreign-listeners',
  'pid-count',
];

interface TerminalRun {
  /** Everything the service wrote to its terminal (stdout and stderr), CR LF -> LF. */
  output: string;
}

/** Starts the service on a pseudo-terminal, waits for its `listening` line, stops it (by pid). */
function runOnTerminal(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<TerminalRun> {
  const command = `exec ${process.execPath} ${ENTRY}`;
  const child = spawn('script', ['-qec', command, '/dev/null'], {env, cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe']});
  return new Promise((resolve, reject) => {
    let output = '';
    let servicePid: number | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      if (servicePid) process.kill(servicePid, 'SIGKILL');
      reject(new Error(`no listening line within ${timeoutMs} ms:\n${output.slice(-3000)}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d.replace(/\r\n/g, '\n');
      const m = /\{[^\n]*"event":"listening"[^\n]*\}/.exec(output);
      if (m && servicePid === undefined) {
        servicePid = (JSON.parse(m[0]) as {pid: number}).pid;
        process.kill(servicePid, 'SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', e => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({output});
    });
  });
}

describe('start-up: the start-up screen (acceptance)', function () {
  this.timeout(120_000);

  const devEnv = (extra: Record<string, string | undefined> = {}) =>
    baseEnv({NODE_ENV: undefined, POSTURE_MODE: undefined, DEV_PKI_DIR: path.join(givenTempDir('hmtls-screen-'), 'dev'), ...extra});

  it('development on a terminal: one readable posture summary naming exactly the checks `npm run posture` fails, no posture JSON line', async () => {
    // The posture CLI exits 1 on a non-compliant posture; its JSON report is on stdout either way.
    const cli = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'posture', 'cli.js'), '--format', 'json'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(cli.status, 1, cli.stderr);
    const oracle = JSON.parse(cli.stdout) as {findings: Array<{id: string; ok: boolean; severity: string}>};
    const expected = oracle.findings
      .filter(f => !f.ok && f.severity !== 'low')
      .map(f => f.id)
      .sort();
    assert.ok(expected.length > 0, 'this machine is not the hardened container: some checks fail');

    const {output} = await runOnTerminal(devEnv());
    const header = /posture self-check: (\d+) of (\d+) checks fail here/.exec(output);
    assert.ok(header, output.slice(0, 3000));
    const shown = [...output.matchAll(/^ {2}✗ (\S+)/gm)].map(m => m[1]).sort();
    // Checks that read the rest of the machine (other processes' environments, sockets, the
    // filesystem walk) can change between the two runs on a busy machine; every other check must agree.
    const stable = (ids: string[]) => ids.filter(id => !MACHINE_WIDE_CHECKS.includes(id));
    assert.deepEqual(stable(shown), stable(expected));
    assert.equal(Number(header[1]), shown.length);
    assert.match(output, /expected on a developer machine/);
    assert.match(output, /Details: npm run posture/);
    assert.doesNotMatch(output, /"event":"posture\.check"/);
    assert.match(output, /hardened-mtls listening on https:\/\/127\.0\.0\.1:\d+\ntry:\n {2}curl /);
  });

  it('development without a terminal: the posture decision stays one JSON audit line, no summary', async () => {
    const svc = await givenService(devEnv());
    try {
      const line = await svc.waitForLog(l => l.event === 'posture.check');
      assert.equal(line.decision, 'warn');
      assert.ok(Array.isArray(line.failed) && line.failed.length > 0);
      assert.ok(!svc.stdout.some(l => l.includes('posture self-check:')));
      assert.ok(svc.stdout.some(l => l.startsWith('hardened-mtls listening on ')));
    } finally {
      await svc.stop();
    }
  });

  it('PRINT_BANNER=false: no banner and no summary, even on a terminal; the logs are unchanged', async () => {
    const {output} = await runOnTerminal(devEnv({PRINT_BANNER: 'false'}));
    assert.doesNotMatch(output, /listening on https|try:|posture self-check/);
    assert.match(output, /"event":"posture\.check"/);
    assert.match(output, /"event":"listening"/);
  });
});
