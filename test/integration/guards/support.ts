/** Helpers shared by the guard integration tests. */
import {Writable} from 'node:stream';
import {createLogger, Logger} from '../../../src/logging/logger';

export interface CapturedLog {
  logger: Logger;
  /** Parsed JSON lines written so far. */
  lines: Array<Record<string, unknown>>;
  /** Raw text written so far. */
  text(): string;
  clear(): void;
}

/** A pino logger (with the service's redaction) writing into memory. */
export function givenCapturingLogger(level = 'debug'): CapturedLog {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      const s = chunk.toString();
      raw.push(s);
      for (const l of s.split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({level, destination});
  return {
    logger,
    lines,
    text: () => raw.join(''),
    clear: () => {
      raw.length = 0;
      lines.length = 0;
    },
  };
}
