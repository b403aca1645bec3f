import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {CONFIG_VARIABLES} from '../../../src/config/config';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('docs: README (unit)', () => {
  it('starts with exactly the two set-up commands', () => {
    const firstBlock = readme.split('```')[1];
    const commands = firstBlock
      .split('\n')
      .slice(1)
      .filter(l => l.trim() !== '');
    assert.equal(commands.length, 2);
    assert.match(commands[0], /^npm ci && npm start\b/);
    assert.match(commands[1], /^npm ci && npm test\b/);
  });

  for (const name of CONFIG_VARIABLES) {
    it(`documents ${name}`, () => {
      assert.ok(readme.includes(`| \`${name}\` |`), `${name} has no row in the README's configuration table`);
    });
  }

  it('the .ci/run script runs the README test command', () => {
    const ci = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
    assert.match(ci, /npm ci[^\n]*&& npm test/);
  });
});
