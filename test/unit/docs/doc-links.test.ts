/**
 * The documents' links to code and tests are checked:
 *  - every relative link in README.md and docs/*.md points at an existing file;
 *  - every test id named in docs/threat-model.md — written as
 *      [file](../test/….test.ts) › `describe › … › it`
 *    — is a test of that file with exactly that title path (mocha --dry-run lists them, so titles
 *    built from tables count as well; nothing is executed);
 *  - every error code named in the documents exists in src/errors.ts, and every service
 *    environment variable named in docs/forking.md and docs/threat-model.md exists in
 *    src/config/config.ts.
 */
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {CONFIG_VARIABLES} from '../../../src/config/config';
import {ERROR_CODES} from '../../../src/errors';
import {RELAY_ENV} from '../../../src/relay/relay-config';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const MOCHA_BIN = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
const REPORTER = path.join(__dirname, 'test-titles-reporter.js');

interface TestTitle {
  file: string;
  titlePath: string[];
}

function documents(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter(f => f.endsWith('.md'))
    .sort()
    .map(f => `docs/${f}`);
  return ['README.md', ...docs];
}

function read(doc: string): string {
  return fs.readFileSync(path.join(ROOT, doc), 'utf8');
}

/** Markdown without fenced code blocks and inline code (links are not links there). */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '``');
}

/** Inline links and images: [text](target "title"), plus reference definitions [id]: target. */
export function linkTargets(md: string): string[] {
  const text = prose(md);
  const out: string[] = [];
  for (const m of text.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) out.push(m[1]);
  return out;
}

function isRelative(target: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#') && !target.startsWith('//');
}

/**
 * Test ids: [label](../test/x.test.ts) › `suite › … › test` (or ``…`` when the title itself
 * holds a backtick).
 */
export function testIds(md: string): {file: string; title: string}[] {
  return [...md.matchAll(/\]\((\.\.\/test\/[^)\s]+\.test\.ts)\) › (?:`` ?(.+?) ?``|`([^`]+)`)/g)].map(m => ({file: m[1], title: m[2] ?? m[3]}));
}

const CODE_FAMILIES = new Set(Object.keys(ERROR_CODES).map(c => c.split('_')[0]));

/** UPPER_SNAKE constants declared in src/ (e.g. CRL_FETCH_MAX_BYTES): named in docs, but not codes. */
function sourceConstants(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/\bconst ([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g)) out.add(m[1]);
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  for (const code of Object.keys(ERROR_CODES)) out.delete(code);
  return out;
}
const VARIABLE_FAMILIES = new Set(['NODE', 'HOST', 'PORT', 'LOG', 'TLS', 'DEV', 'MTLS', 'HTTP', 'SHUTDOWN', 'OUTBOUND', 'AUDIT', 'POSTURE']);
const CIPHER_SUITE = /^TLS_(AES|CHACHA20)_/;

/** UPPER_SNAKE tokens in inline code, and in `"code": "X"` JSON snippets. */
function upperSnakeTokens(md: string): Set<string> {
  const out = new Set<string>();
  for (const m of md.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)) out.add(m[1]);
  for (const m of md.matchAll(/"code"\s*:\s*"([A-Z][A-Z0-9_]+)"/g)) out.add(m[1]);
  // Codes inside table cells or lists that are written as `A`/`B` or `A_*` families are skipped.
  return out;
}

function listTestTitles(): Promise<TestTitle[]> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'doc-links-')), 'titles.json');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [MOCHA_BIN, '--no-config', '--dry-run', '--reporter', REPORTER, path.join(ROOT, 'dist', 'test', '**', '*.test.js')],
      {cwd: ROOT, env: {...process.env, TEST_TITLES_OUT: out}, maxBuffer: 64 * 1024 * 1024, timeout: 120_000},
      (err, _stdout, stderr) => {
        try {
          if (err) throw new Error(`mocha --dry-run failed: ${stderr || err.message}`);
          resolve(JSON.parse(fs.readFileSync(out, 'utf8')) as TestTitle[]);
        } catch (e) {
          reject(e);
        } finally {
          fs.rmSync(path.dirname(out), {recursive: true, force: true});
        }
      },
    );
  });
}

describe('docs: documentation links (unit)', function () {
  this.timeout(120_000);

  describe('relative links', () => {
    for (const doc of documents()) {
      it(`${doc}: every relative link points at an existing file`, () => {
        const broken: string[] = [];
        const targets = linkTargets(read(doc)).filter(isRelative);
        for (const t of targets) {
          const file = decodeURIComponent(t.replace(/[#?].*$/, ''));
          if (file === '') continue;
          if (!fs.existsSync(path.resolve(ROOT, path.dirname(doc), file))) broken.push(t);
        }
        assert.deepEqual(broken, [], `${doc} links to missing files`);
      });
    }

    it('the link extractor finds inline, image and reference links and ignores code', () => {
      const md = 'a [x](../src/a.ts) ![i](img.png "t") `[no](code.ts)`\n```\n[no](fenced.ts)\n```\n[ref]: docs/b.md\n';
      assert.deepEqual(linkTargets(md), ['../src/a.ts', 'img.png', 'docs/b.md']);
    });
  });

  describe('docs/threat-model.md test ids', () => {
    let titles: TestTitle[];
    const md = () => read('docs/threat-model.md');
    before(async () => {
      titles = await listTestTitles();
    });

    it('lists the tests of the suite (mocha --dry-run)', () => {
      assert.ok(titles.length > 100, `only ${titles.length} tests listed`);
      assert.ok(
        titles.some(
          t =>
            t.titlePath.join(' › ') ===
            'docs: documentation links (unit) › docs/threat-model.md test ids › lists the tests of the suite (mocha --dry-run)',
        ),
      );
    });

    it('every test id names an existing test of that file', () => {
      const ids = testIds(md());
      assert.ok(ids.length >= 20, `only ${ids.length} test ids found`);
      const missing: string[] = [];
      for (const {file, title} of ids) {
        const compiled = path.join(ROOT, 'dist', path.normalize(path.join('docs', file)).replace(/\.ts$/, '.js'));
        if (!titles.some(t => t.file === compiled && t.titlePath.join(' › ') === title)) missing.push(`${file} › ${title}`);
      }
      assert.deepEqual(missing, [], 'test ids that name no test');
    });

    it('every threat has a control, the file implementing it, tests proving it and a residual risk', () => {
      const sections = md().split(/^### /m).slice(1);
      assert.ok(sections.length >= 12, `only ${sections.length} threats`);
      for (const s of sections) {
        const name = s.split('\n')[0];
        for (const field of ['**Threat**', '**Control**', '**Implemented in**', '**Proved by**', '**Residual risk**']) {
          assert.ok(s.includes(field), `${name}: no ${field}`);
        }
        const implemented = s.split('**Implemented in**')[1].split('**Proved by**')[0];
        assert.match(implemented, /\]\(\.\.\/(src|Dockerfile|deploy|docker-compose)/, `${name}: no link to the implementing file`);
        assert.ok(testIds(s).length > 0, `${name}: no test id`);
      }
    });
  });

  describe('error codes and environment variables named in the documents', () => {
    const constants = sourceConstants();
    for (const doc of documents()) {
      it(`${doc}: every error code exists in src/errors.ts`, () => {
        const unknown = [...upperSnakeTokens(read(doc))].filter(
          t =>
            CODE_FAMILIES.has(t.split('_')[0]) &&
            !(t in ERROR_CODES) &&
            !(CONFIG_VARIABLES as readonly string[]).includes(t) &&
            !(RELAY_ENV as readonly string[]).includes(t) &&
            !CIPHER_SUITE.test(t) &&
            !constants.has(t),
        );
        assert.deepEqual(unknown, [], `${doc} names codes that src/errors.ts does not define`);
      });
    }

    for (const doc of ['docs/forking.md', 'docs/threat-model.md']) {
      it(`${doc}: every service environment variable exists in src/config/config.ts`, () => {
        const unknown = [...upperSnakeTokens(read(doc))].filter(
          t =>
            VARIABLE_FAMILIES.has(t.split('_')[0]) &&
            !(CONFIG_VARIABLES as readonly string[]).includes(t) &&
            !(t in ERROR_CODES) &&
            !CIPHER_SUITE.test(t),
        );
        assert.deepEqual(unknown, [], `${doc} names variables the service does not read`);
      });
    }
  });
});
