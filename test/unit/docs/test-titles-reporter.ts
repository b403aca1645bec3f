/**
 * A mocha reporter used with `--dry-run` by doc-links.test.ts: writes every test's file and title
 * path (describe … it) as JSON to the file named by $TEST_TITLES_OUT. Nothing is executed.
 * Not a test file itself (no `.test.` in the name).
 */
import fs from 'node:fs';
import type Mocha from 'mocha';

interface TestTitle {
  /** Compiled file, absolute. */
  file: string;
  /** Suite titles then the test title. */
  titlePath: string[];
}

function collect(suite: Mocha.Suite, out: TestTitle[]): void {
  for (const t of suite.tests) out.push({file: t.file ?? '', titlePath: t.titlePath()});
  for (const s of suite.suites) collect(s, out);
}

class TestTitlesReporter {
  constructor(runner: Mocha.Runner) {
    // Every file is loaded before the reporter is constructed.
    const out: TestTitle[] = [];
    collect(runner.suite, out);
    const target = process.env.TEST_TITLES_OUT;
    if (!target) throw new Error('TEST_TITLES_OUT is not set');
    fs.writeFileSync(target, JSON.stringify(out));
  }
}

export = TestTitlesReporter;
