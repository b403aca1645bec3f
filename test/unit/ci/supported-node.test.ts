/**
 * The project runs on a supported Node.js line (22 or 24) even where the machine's own node is
 * older: package.json pins Node 24 (the npm `node` package, first on npm scripts' PATH), engines
 * admits no end-of-life line, and CI runs the suite on 22 as well.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  engines: {node: string};
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const SUPPORTED = [22, 24];

describe('ci: supported Node.js (unit)', () => {
  it(`this suite itself runs on a supported Node (${SUPPORTED.join(' or ')}), not the machine's older node`, () => {
    const major = Number(process.versions.node.split('.')[0]);
    assert.ok(SUPPORTED.includes(major), `running on ${process.version} (${process.execPath})`);
  });

  it('package.json pins Node 24 as a dev dependency and lets its install script fetch the binary', () => {
    assert.match(pkg.devDependencies.node, /^\^?24\./);
    assert.equal(pkg.allowScripts?.node, true);
  });

  it('engines admits 22 and later only', () => {
    assert.equal(pkg.engines.node, '>=22');
  });

  it('npm start and npm test check the Node version first', () => {
    assert.match(pkg.scripts.prestart, /^node scripts\/check-node\.js && /);
    assert.match(pkg.scripts.pretest, /^node scripts\/check-node\.js && /);
  });

  it('.ci/run runs the suite on Node 22 too, with a binary it fetches from the npm registry', () => {
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
    assert.match(ci, /node-linux-\$arch@22/);
    assert.match(ci, /mocha\.js --config \.mocharc\.json/);
  });
});
