/**
 * Terminal helpers for the demo: colour decision, styles, shell quoting, waiting for Enter.
 *
 * Pure except waitForEnter(), which reads the stream it is given.
 */
import type {Readable} from 'node:stream';

/**
 * Colour only when writing to a terminal and NO_COLOR is not set (https://no-color.org: any
 * non-empty value disables colour). `--no-color` forces plain text.
 */
export function shouldUseColour(opts: {
  isTTY: boolean | undefined;
  env: Readonly<Record<string, string | undefined>>;
  noColorFlag?: boolean;
}): boolean {
  if (opts.noColorFlag) return false;
  const noColor = opts.env.NO_COLOR;
  if (noColor !== undefined && noColor !== '') return false;
  return opts.isTTY === true;
}

export interface Styles {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export function makeStyles(colour: boolean): Styles {
  if (!colour) {
    const id = (s: string) => s;
    return {bold: id, dim: id, green: id, red: id, yellow: id, cyan: id};
  }
  return {bold: sgr(1, 22), dim: sgr(2, 22), green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39), cyan: sgr(36, 39)};
}

/** POSIX-shell quoting: bare when only safe characters, single quotes otherwise. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[\w./:@%+=,-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line a person would type (argv quoted; `< /dev/null` when stdin is empty). */
export function formatCommand(argv: readonly string[], opts: {stdinDevNull?: boolean; stdinText?: string} = {}): string {
  const line = argv.map(shellQuote).join(' ');
  if (opts.stdinDevNull) return `${line} </dev/null`;
  if (opts.stdinText !== undefined) return `printf %s ${shellQuote(opts.stdinText)} | ${line}`;
  return line;
}

/**
 * Reads Enter presses from a stream: next() resolves with 'enter' for each line received (lines
 * that arrived early are queued), or 'eof' once the stream has ended, so a closed or redirected
 * stdin never blocks the demo. close() detaches from the stream.
 */
export class EnterReader {
  private pending = 0;
  private ended = false;
  private waiter: ((how: 'enter' | 'eof') => void) | undefined;
  private readonly onData = (chunk: Buffer | string): void => {
    for (const ch of String(chunk)) if (ch === '\n') this.pending++;
    this.flush();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.flush();
  };

  constructor(private readonly input: Readable) {
    if (input.readableEnded || input.destroyed) {
      this.ended = true;
      return;
    }
    input.on('data', this.onData);
    input.once('end', this.onEnd);
    input.once('close', this.onEnd);
    input.once('error', this.onEnd);
  }

  next(): Promise<'enter' | 'eof'> {
    return new Promise(resolve => {
      this.waiter = resolve;
      if (!this.ended) this.input.resume();
      this.flush();
    });
  }

  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('close', this.onEnd);
    this.input.off('error', this.onEnd);
    this.input.pause();
    this.ended = true;
    this.flush();
  }

  private flush(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.pending > 0) {
      this.pending--;
      this.waiter = undefined;
      if (!this.ended) this.input.pause();
      w('enter');
    } else if (this.ended) {
      this.waiter = undefined;
      w('eof');
    }
  }
}
