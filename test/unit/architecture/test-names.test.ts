/**
 * One describe naming scheme across the tiers: the top-level describe of every test file reads
 * `<area>: <what> (<tier>)`, e.g. `guards: normaliser (unit)`, `tls: mTLS policy with real
 * clients (acceptance)`, with <tier> the folder it lives in (unit, integration, acceptance,
 * escape, container). docs/threat-model.md cites tests by these titles.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const TIERS = ['unit', 'integration', 'acceptance', 'escape', 'container'];

/** Files still named the old way, to rename when their owners' changes are merged (the list only shrinks). */
const NOT_YET: readonly string[] = [];

function testFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) testFiles(p, out);
    else if (e.name.endsWith('.test.ts')) out.push(path.relative(ROOT, p));
  }
  return out;
}

/** Title of the first top-level describe (a describe at column 0), or undefined. */
function topLevelTitle(file: string): string | undefined {
  const m = /^describe\(\s*(['`"])((?:\\.|(?!\1).)*)\1/m.exec(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  return m?.[2].replace(/\\(.)/g, '$1');
}

function followsScheme(title: string, tier: string): boolean {
  return new RegExp(`^[a-z][a-z0-9 .-]*: \\S.* \\(${tier}\\)$`).test(title);
}

describe('architecture: test naming scheme (unit)', () => {
  it('the scheme check accepts and refuses what it should', () => {
    assert.ok(followsScheme('guards: normaliser (unit)', 'unit'));
    assert.ok(!followsScheme('guards: normaliser (integration)', 'unit'), 'tier must be the folder');
    assert.ok(!followsScheme('normaliser (unit)', 'unit'), 'area prefix required');
    assert.ok(!followsScheme('guards: normaliser', 'unit'), 'tier suffix required');
  });

  for (const tier of TIERS) {
    it(`every ${tier} test file's top-level describe reads "<area>: <what> (${tier})"`, () => {
      const bad = testFiles(path.join(ROOT, 'test', tier))
        .filter(f => !NOT_YET.includes(f))
        .map(f => [f, topLevelTitle(f)] as const)
        .filter(([, t]) => t !== undefined && !followsScheme(t, tier))
        .map(([f, t]) => `${f}: ${t}`);
      assert.deepEqual(bad, []);
    });
  }

  it('the files not yet renamed still exist and still use the old names (remove them from NOT_YET once renamed)', () => {
    const stale = NOT_YET.filter(f => {
      const tier = f.split('/')[1];
      const t = fs.existsSync(path.join(ROOT, f)) ? topLevelTitle(f) : undefined;
      return t === undefined || followsScheme(t, tier);
    });
    assert.deepEqual(stale, []);
  });
});
