/**
 * `npm run demo -- [--step] [--no-color]`
 *
 * Starts the service (`node dist/src/index.js`) with a fresh dev PKI and a loopback
 * `openssl ocsp` responder, then walks through every scenario: the command a person would
 * type, what happened, and why. Each command is really run (curl, openssl) and its outcome
 * compared with the narration.
 *
 * Exit status: 0 every scenario behaved as narrated; 1 at least one did not; 2 usage error;
 * 3 the demo could not be set up (e.g. curl or openssl missing); 130 interrupted.
 * Colour when stdout is a terminal and NO_COLOR is not set; plain text otherwise.
 */
import 'reflect-metadata';
import {runDemo} from './demo';
import {killRunningCommands} from './processes';
import type {Stage} from './stage';
import {shouldUseColour} from './terminal';

export interface CliArgs {
  step: boolean;
  noColor: boolean;
  help: boolean;
}

export const USAGE =
  'usage: npm run demo -- [--step] [--no-color]\n' +
  '  --step      pause for Enter between scenarios\n' +
  '  --no-color  plain text even on a terminal (NO_COLOR=1 does the same)\n';

export function parseArgs(argv: readonly string[]): CliArgs | {error: string} {
  const args: CliArgs = {step: false, noColor: false, help: false};
  for (const a of argv) {
    if (a === '--step') args.step = true;
    else if (a === '--no-color' || a === '--no-colour') args.noColor = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else return {error: `unknown argument: ${a}`};
  }
  return args;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const parsed = parseArgs(argv);
  if ('error' in parsed) {
    process.stderr.write(`demo: ${parsed.error}\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let stage: Stage | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    killRunningCommands();
    stage?.kill();
    process.stderr.write(`\ndemo: interrupted (${sig}); services stopped, temporary files removed\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await runDemo({
      out: process.stdout,
      colour: shouldUseColour({isTTY: process.stdout.isTTY, env: process.env, noColorFlag: parsed.noColor}),
      step: parsed.step,
      stdin: process.stdin,
      onStage: s => (stage = s),
    });
    return result.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`demo: could not run: ${(e as Error).message}\n`);
    return 3;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // --step read stdin; a pipe that was read from keeps the event loop alive even when paused.
    if (parsed.step) process.stdin.destroy();
  }
}

if (require.main === module) {
  void main().then(code => {
    process.exitCode = code;
  });
}
