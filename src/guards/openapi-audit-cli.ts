/**
 * `npm run audit:openapi -- FILE [--format text|json]`
 *
 * Audits any OpenAPI 3.x / Swagger 2.0 document (JSON or YAML; internal and external `$ref`s,
 * cycles handled; `$ref`s to http(s) URLs are not fetched). Prints the findings as text (default)
 * or JSON. Exit status: 0 = no high-severity finding, 1 = at least one high finding,
 * 2 = usage error or the document could not be read/resolved.
 */
import {auditOpenApiFile, formatReportText} from './openapi-audit';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

const USAGE = 'usage: audit-openapi FILE [--format text|json]\n';

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let file: string | undefined;
  let format: 'text' | 'json' = 'text';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--format' || a.startsWith('--format=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'text' && v !== 'json') {
        io.err(`--format must be text or json\n${USAGE}`);
        return 2;
      }
      format = v;
    } else if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    } else if (a.startsWith('-')) {
      io.err(`unknown option ${a}\n${USAGE}`);
      return 2;
    } else if (file === undefined) {
      file = a;
    } else {
      io.err(`only one FILE\n${USAGE}`);
      return 2;
    }
  }
  if (file === undefined) {
    io.err(USAGE);
    return 2;
  }
  let report;
  try {
    report = await auditOpenApiFile(file);
  } catch (e) {
    io.err(`cannot audit ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  io.out(format === 'json' ? JSON.stringify({source: file, ...report}, null, 2) + '\n' : formatReportText(report, file));
  return report.counts.high > 0 ? 1 : 0;
}

if (require.main === module) {
  runCli(process.argv.slice(2), {out: s => process.stdout.write(s), err: s => process.stderr.write(s)}).then(
    code => {
      process.exitCode = code;
    },
    e => {
      process.stderr.write(`audit-openapi: ${(e as Error).message}\n`);
      process.exitCode = 2;
    },
  );
}
