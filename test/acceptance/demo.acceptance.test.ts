/**
 * `npm run demo` as a test: the CLI runs as a child process (exactly what `npm run demo` runs
 * after building), starts the service and a loopback `openssl ocsp` responder, runs the real
 * curl / openssl commands it prints and exits 0 only when every scenario behaved as narrated.
 * Also: the comparison it relies on does notice a wrong outcome, --step waits for Enter,
 * colour follows the terminal and NO_COLOR.
 */
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {PassThrough} from 'node:stream';
import {compareOutcome, Expectation, observeCurl, Observed, observeSClient} from '../../src/demo/outcome';
import type {CommandResult} from '../../src/demo/processes';
import {SCENARIO_IDS} from '../../src/demo/scenarios';
import {EnterReader, formatCommand, shouldUseColour} from '../../src/demo/terminal';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'demo', 'cli.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const PROMPT = '(press Enter for the next scenario)';

/**
 * Run the CLI. stdin stays open and silent unless `answerPrompts`: then one Enter is written per
 * prompt, and `headersBeforeEnter` records how many scenario headers had been printed each time a
 * prompt appeared (so a demo that does not wait shows up).
 */
function givenCliRun(args: string[], env: NodeJS.ProcessEnv, opts: {answerPrompts?: boolean} = {}): Promise<CliRun & {headersAtPrompt: number[]}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    const headersAtPrompt: number[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!opts.answerPrompts) return;
      while (stdout.split(PROMPT).length - 1 > headersAtPrompt.length) {
        headersAtPrompt.push((stdout.match(/^\[\d\d\/\d\d\] /gm) ?? []).length);
        setTimeout(() => child.stdin.write('\n'), 50);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', code => {
      child.stdin.destroy();
      resolve({code, stdout, stderr, headersAtPrompt});
    });
  });
}

function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = {...process.env};
  for (const n of names) delete env[n];
  return env;
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.connect({host: '127.0.0.1', port}, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

describe('demo: npm run demo (acceptance)', function () {
  this.timeout(300_000);
  let run: CliRun;

  before(async () => {
    // Not a terminal (pipes) and NO_COLOR unset: plain text is expected.
    run = await givenCliRun([], envWithout('NO_COLOR', 'FORCE_COLOR'));
  });

  it('exits 0 (every scenario behaved as narrated)', () => {
    assert.equal(run.code, 0, `demo exited ${run.code}\n${run.stdout.slice(-4000)}\n${run.stderr}`);
  });

  it('prints one result line per scenario, in order, each saying it behaved as narrated', () => {
    const results = run.stdout
      .split('\n')
      .filter(l => /^\s*\[(ok|FAIL)\] \d\d /.test(l))
      .map(l => l.trim());
    assert.deepEqual(
      results,
      SCENARIO_IDS.map((id, i) => `[ok] ${String(i + 1).padStart(2, '0')} ${id}: behaved as narrated`),
    );
    assert.match(run.stdout, new RegExp(`^${SCENARIO_IDS.length} of ${SCENARIO_IDS.length} scenarios behaved as narrated$`, 'm'));
  });

  it('prints for every scenario the command it ran: a real curl, openssl s_client or node CLI line', () => {
    const blocks = run.stdout.split(/^\[\d\d\/\d\d\] /m).slice(1);
    assert.equal(blocks.length, SCENARIO_IDS.length);
    for (const [i, block] of blocks.entries()) {
      const cmd = block.split('\n').find(l => l.startsWith('  $ '));
      assert.ok(cmd, `scenario ${SCENARIO_IDS[i]} printed no command`);
      assert.match(cmd, /^ {2}\$ (curl -sS -i .* https:\/\/127\.0\.0\.1:\d+\/|openssl s_client -connect 127\.0\.0\.1:\d+ |node dist\/src\/)/, cmd);
      for (const l of block.split('\n').filter(x => /^\s+(expected|happened|why)\s/.test(x))) assert.ok(l.trim().length > 10, l);
      assert.match(block, /^\s+expected\s+\S/m);
      assert.match(block, /^\s+happened\s+\S/m);
      assert.match(block, /^\s+why\s+\S/m);
    }
  });

  it('writes plain text when stdout is not a terminal', () => {
    assert.ok(!run.stdout.includes('\x1b['), 'ANSI escape in non-TTY output');
  });

  it('removes its temporary directory (it held private keys) and stops every listener it started', async () => {
    const dir = /^ {2}dev PKI\s+(\S+)\/pki /m.exec(run.stdout)?.[1];
    assert.ok(dir && dir.includes('hmtls-demo-'), 'no temp dir printed');
    assert.equal(fs.existsSync(dir), false, `${dir} still exists`);
    const ports = [...run.stdout.matchAll(/^ {2}(?:service|OCSP responder)\s+\S*?:\/\/127\.0\.0\.1:(\d+)/gm)].map(m => Number(m[1]));
    assert.equal(ports.length, 3, 'expected two services and one responder');
    for (const p of ports) assert.ok(await connectRefused(p), `port ${p} still accepts connections`);
  });

  it('--step pauses for Enter after each scenario but the last', async () => {
    const r = await givenCliRun(['--step'], envWithout('NO_COLOR'), {answerPrompts: true});
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    // Prompt k appears after scenario k's header and before scenario k+1's.
    assert.deepEqual(
      r.headersAtPrompt,
      SCENARIO_IDS.slice(1).map((_, i) => i + 1),
    );
  });

  it('refuses an unknown argument with exit status 2', async () => {
    const r = await givenCliRun(['--bogus'], process.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown argument: --bogus/);
  });

  describe('the narration comparison notices a scenario that misbehaves', () => {
    const result = (o: Partial<CommandResult>): CommandResult => ({exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...o});
    const http = (status: number, body: string) => result({stdout: `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\n\r\n${body}`});
    const cases: [string, Expectation, Observed, boolean][] = [
      [
        '403 with the expected code',
        {kind: 'http', status: 403, code: 'AUTH_IDENTITY_NOT_ALLOWED'},
        observeCurl(http(403, '{"error":{"code":"AUTH_IDENTITY_NOT_ALLOWED","message":"m"}}')),
        true,
      ],
      [
        '200 where a 403 was narrated',
        {kind: 'http', status: 403, code: 'AUTH_IDENTITY_NOT_ALLOWED'},
        observeCurl(http(200, '{"serial":"01"}')),
        false,
      ],
      [
        'another refusal code',
        {kind: 'http', status: 403, code: 'AUTH_IDENTITY_NOT_ALLOWED'},
        observeCurl(http(403, '{"error":{"code":"AUTH_KEY_WEAK","message":"m"}}')),
        false,
      ],
      ['an error where 200 was narrated', {kind: 'http', status: 200}, observeCurl(http(200, '{"error":{"code":"X","message":"m"}}')), false],
      [
        'a TLS alert as narrated',
        {kind: 'tls-alert', alert: 'certificate required'},
        observeCurl(
          result({exitCode: 56, stderr: 'curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0'}),
        ),
        true,
      ],
      [
        'another TLS alert',
        {kind: 'tls-alert', alert: 'protocol version'},
        observeSClient(result({exitCode: 1, stderr: 'error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:'})),
        false,
      ],
      ['an HTTP answer where a handshake refusal was narrated', {kind: 'refused-before-http'}, observeCurl(http(200, '{}')), false],
      [
        'connection refused (service down) is not a TLS refusal',
        {kind: 'refused-before-http'},
        observeCurl(result({exitCode: 7, stderr: 'curl: (7) Failed to connect to 127.0.0.1 port 1: Connection refused'})),
        false,
      ],
      ['a timeout is not a TLS refusal', {kind: 'refused-before-http'}, observeCurl(result({exitCode: null, timedOut: true})), false],
      ['curl missing', {kind: 'http', status: 200}, observeCurl(result({exitCode: null, spawnError: 'spawn curl ENOENT'})), false],
      [
        'an empty reply after the handshake',
        {kind: 'refused-before-http'},
        observeCurl(result({exitCode: 52, stderr: 'curl: (52) Empty reply from server'})),
        true,
      ],
    ];
    for (const [what, expect, observed, same] of cases) {
      it(`${what}: ${same ? 'behaved as narrated' : 'reported as a difference'}`, () => {
        assert.equal(compareOutcome(expect, observed).length === 0, same, JSON.stringify(observed));
      });
    }
  });

  describe('terminal behaviour', () => {
    const colourCases: [string, boolean | undefined, Record<string, string | undefined>, boolean | undefined, boolean][] = [
      ['a terminal', true, {}, false, true],
      ['a pipe', false, {}, false, false],
      ['no TTY information', undefined, {}, false, false],
      ['a terminal with NO_COLOR=1', true, {NO_COLOR: '1'}, false, false],
      ['a terminal with --no-color', true, {}, true, false],
    ];
    for (const [what, isTTY, env, flag, colour] of colourCases) {
      it(`colour on ${what}: ${colour}`, () => {
        assert.equal(shouldUseColour({isTTY, env, noColorFlag: flag}), colour);
      });
    }

    it('--step waits for Enter between scenarios and never blocks on a closed stdin', async () => {
      const input = new PassThrough();
      const reader = new EnterReader(input);
      let settled: string | undefined;
      const first = reader.next().then(v => (settled = v));
      await new Promise(r => setImmediate(r));
      assert.equal(settled, undefined, 'resolved before Enter');
      input.write('\n\n');
      assert.equal(await first, 'enter');
      assert.equal(await reader.next(), 'enter', 'a queued Enter was lost');
      input.end();
      assert.equal(await reader.next(), 'eof');
      reader.close();
    });

    it('prints commands a shell runs as shown', () => {
      assert.equal(
        formatCommand(['curl', '--cert', '/tmp/a b/c.crt', "it's"], {stdinDevNull: true}),
        `curl --cert '/tmp/a b/c.crt' 'it'\\''s' </dev/null`,
      );
    });
  });
});
