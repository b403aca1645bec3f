/**
 * `npm run posture -- [--format text|json] [--allow-net-bind-service] [--max-entries N]`
 * (in the image: `node dist/src/posture/cli.js --format json`).
 *
 * Prints the runtime posture report of the process it runs in. Exit status: 0 compliant,
 * 1 not compliant, 2 usage error.
 */
import {formatReport} from './posture';
import {runPostureCheck} from './posture-io';

interface CliArgs {
  format: 'text' | 'json';
  allowNetBindService: boolean;
  maxEntries?: number;
}

function usage(msg: string): never {
  process.stderr.write(`posture: ${msg}\nusage: posture [--format text|json] [--allow-net-bind-service] [--max-entries N]\n`);
  process.exit(2);
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = {format: 'text', allowNetBindService: false};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--format') {
      const v = argv[++i];
      if (v !== 'text' && v !== 'json') usage('--format must be text or json');
      out.format = v;
    } else if (a.startsWith('--format=')) {
      const v = a.slice('--format='.length);
      if (v !== 'text' && v !== 'json') usage('--format must be text or json');
      out.format = v;
    } else if (a === '--json') {
      out.format = 'json';
    } else if (a === '--allow-net-bind-service') {
      out.allowNetBindService = true;
    } else if (a === '--max-entries') {
      const v = argv[++i];
      if (!v || !/^\d+$/.test(v)) usage('--max-entries needs a number');
      out.maxEntries = Number(v);
    } else if (a === '--help' || a === '-h') {
      usage('help');
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  return out;
}

export function main(argv: readonly string[] = process.argv.slice(2)): number {
  const args = parseArgs(argv);
  const report = runPostureCheck({allowNetBindService: args.allowNetBindService, maxEntries: args.maxEntries});
  process.stdout.write(args.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.compliant ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = main();
}
