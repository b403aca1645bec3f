/**
 * Layers import downward only (docs/architecture.md, "Layers"). Reads every import of src/ and
 * bench/ (static `import ... from`, `export ... from`, `import()`, `require()`) and checks:
 *   - a file in a layered folder imports from another top-level folder of src/ only when that
 *     folder's layer is strictly lower (config below the shared infrastructure, below tls, below
 *     the components auth and guards, which do not import each other);
 *   - src/ never imports test/ or bench/, and bench/ never imports test/ (the soak, which shares
 *     the reliability tests' fixtures, lives in test/soak/).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * Layer of each top-level part of src/ (a folder, or a single file without `.ts`). Imports go
 * from a higher number to a strictly lower one. Parts not listed (application.ts, index.ts,
 * controllers/, escape/, ...) sit on top and may import anything below.
 */
const LAYERS: Readonly<Record<string, number>> = {
  errors: 0,
  logging: 0,
  identity: 2, // identity-rule parsing, shared by config and auth
  config: 3,
  outbound: 4, // shared infrastructure: the SSRF-safe outbound client and its address/URL policy
  x509: 1, // shared infrastructure: X.509/DER reading (the identity rules match its names)
  pki: 4,
  tls: 5,
  audit: 5, // the OpenAPI audit (reads strangers' specs); the guards use its classifyField()
  keys: 6, // application-wide binding keys (config, logger, TLS state) the components read
  auth: 7,
  guards: 7,
  authz: 8,
};

/**
 * Known upward imports still being removed, each with the change that removes it. An entry that
 * no longer matches a real import fails the test too, so the list only shrinks.
 */
const KNOWN_UPWARD: ReadonlyArray<{from: string; to: string; removedBy: string}> = [];

interface Edge {
  from: string; // repo-relative file
  to: string; // repo-relative resolved specifier (no extension)
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;

function edgesOf(top: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of walk(path.join(ROOT, top))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), m[1]);
      edges.push({from: path.relative(ROOT, file), to: path.relative(ROOT, target).replace(/\.(ts|js|json)$/, '')});
    }
  }
  return edges;
}

/** Top-level part of src/ a repo-relative path belongs to (`src/auth/x.ts` -> `auth`, `src/keys.ts` -> `keys`). */
function partOf(rel: string): string {
  return rel.split('/')[1].replace(/\.ts$/, '');
}

function upwardImports(edges: Edge[]): Edge[] {
  return edges.filter(e => {
    if (!e.from.startsWith('src/') || !e.to.startsWith('src/')) return false;
    const from = partOf(e.from);
    const to = partOf(e.to);
    if (from === to || LAYERS[from] === undefined) return false;
    return LAYERS[to] === undefined || LAYERS[to] >= LAYERS[from];
  });
}

describe('architecture: layers import downward only (unit)', () => {
  const src = edgesOf('src');
  const bench = edgesOf('bench');
  const known = (e: Edge) => KNOWN_UPWARD.some(k => k.from === e.from && k.to === e.to);

  it('reads the imports (the check can see an import)', () => {
    assert.ok(src.some(e => e.from === 'src/auth/revocation-transport.ts' && e.to === 'src/outbound/outbound-client'));
    assert.ok(src.some(e => e.from === 'src/guards/request-policy.ts' && e.to === 'src/outbound/ip-policy'));
  });

  it('no upward import among config/, outbound/, tls/, auth/, guards/ and the other layered folders', () => {
    const bad = upwardImports(src)
      .filter(e => !known(e))
      .map(e => `${e.from} -> ${e.to}`);
    assert.deepEqual(bad, [], 'move the imported code down a layer (or into shared infrastructure), or fix the LAYERS table');
  });

  it('every known upward import still exists (remove the entry once it is gone)', () => {
    const upward = upwardImports(src);
    const stale = KNOWN_UPWARD.filter(k => !upward.some(e => e.from === k.from && e.to === k.to));
    assert.deepEqual(stale, []);
  });

  it('the check itself catches an upward import (auth -> guards, config -> tls, guards -> auth)', () => {
    const probe: Edge[] = [
      {from: 'src/auth/a.ts', to: 'src/guards/b'},
      {from: 'src/config/config.ts', to: 'src/tls/tls-options'},
      {from: 'src/guards/a.ts', to: 'src/auth/b'},
      {from: 'src/outbound/a.ts', to: 'src/guards/rules'},
      {from: 'src/auth/a.ts', to: 'src/new-folder/x'},
      {from: 'src/auth/a.ts', to: 'src/tls/ok'},
      {from: 'src/guards/a.ts', to: 'src/outbound/ok'},
    ];
    assert.deepEqual(
      upwardImports(probe).map(e => e.to),
      ['src/guards/b', 'src/tls/tls-options', 'src/auth/b', 'src/guards/rules', 'src/new-folder/x'],
    );
  });

  it('src/ imports neither test/ nor bench/; bench/ does not import test/', () => {
    const bad = [...src.filter(e => /^(test|bench)\//.test(e.to)), ...bench.filter(e => e.to.startsWith('test/'))].map(e => `${e.from} -> ${e.to}`);
    assert.deepEqual(bad, []);
  });
});
