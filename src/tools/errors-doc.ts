/**
 * Renders docs/errors.md from ERROR_CODES (`npm run docs:errors`). A unit test fails when the
 * committed document and the catalog differ, so every code stays documented.
 */
import {writeFileSync} from 'node:fs';
import path from 'node:path';
import {ERROR_CODES, ErrorCodeSpec} from '../errors';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES as Record<string, ErrorCodeSpec>).map(
    ([code, spec]) => `| \`${code}\` | ${spec.status} | ${spec.exit ?? ''} | ${spec.doc.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error a caller, an audit line or a start-up refusal can carry. Responses have the body',
    '`{"error": {"code": "...", "message": "..."}}` and nothing else; tests assert the code, never the message.',
    'Start-up refusals exit with the listed exit code (78 = EX_CONFIG) after one `fatal` log line naming the code.',
    '',
    'Generated from `src/errors.ts` by `npm run docs:errors`; a unit test keeps the two identical.',
    '',
    '| code | HTTP status | exit code | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (require.main === module) {
  const out = path.resolve(__dirname, '..', '..', '..', 'docs', 'errors.md');
  writeFileSync(out, renderErrorsDoc());
  process.stdout.write(`wrote ${out}\n`);
}
