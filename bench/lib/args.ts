/**
 * Command line of `npm run bench -- [options]`. Pure (unit-tested).
 *   --quick               smoke mode: 2 rounds, 1 s warm-up, 2 s windows, CRLs of 10k and 1M entries
 *   --rounds N            interleaved rounds (default 5)
 *   --duration S          measured seconds per window (default 10)
 *   --warmup S            warm-up seconds per window (default 2)
 *   --sections LIST       comma list of keepalive,handshake,connections,revocation,guards,startup (default all)
 *                         (handshake = TLS handshakes only, no HTTP; connections = one request per connection)
 *   --handshake-workers N concurrent workers of the handshake-only client (default 8)
 *   --out DIR             where benchmarks.md/json go (default docs)
 *   --server-cpu N        CPU for the servers (default 0)
 *   --load-cpu N          CPU for wrk (default 1)
 *   --log-file PATH       service log sink (default /dev/null; audit lines are still produced)
 *   --cpu-prof DIR        run the Node servers of (b), (c) and (d) with --cpu-prof, profiles written to DIR/<variant>
 */
import type {SectionId} from './types';

export const ALL_SECTIONS: readonly SectionId[] = ['keepalive', 'handshake', 'connections', 'revocation', 'guards', 'startup'];

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  durationS: number;
  warmupS: number;
  handshakeConnections: number;
  handshakeWorkers: number;
  sections: SectionId[];
  outDir: string;
  serverCpu: number;
  loadCpu: number;
  logFile: string;
  cpuProfDir: string | undefined;
  crlSizes: number[];
  startupRounds: number;
}

export class UsageError extends Error {}

function num(name: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${name} needs a number`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}`);
  return n;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    quick,
    rounds: quick ? 2 : 5,
    durationS: quick ? 2 : 10,
    warmupS: quick ? 1 : 2,
    handshakeConnections: 32,
    handshakeWorkers: 8,
    sections: [...ALL_SECTIONS],
    outDir: 'docs',
    serverCpu: 0,
    loadCpu: 1,
    logFile: '/dev/null',
    cpuProfDir: undefined,
    // --quick: the smallest and the 1M-entry CRL (what the O(1) and event-loop targets need).
    crlSizes: quick ? [10_000, 1_000_000] : [10_000, 100_000, 1_000_000],
    startupRounds: quick ? 1 : 5,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--quick':
        break;
      case '--rounds':
        o.rounds = num(a, next(), 1, 100);
        break;
      case '--duration':
        o.durationS = num(a, next(), 0.5, 600);
        break;
      case '--warmup':
        o.warmupS = num(a, next(), 0, 600);
        break;
      case '--handshake-connections':
        o.handshakeConnections = num(a, next(), 1, 1000);
        break;
      case '--handshake-workers':
        o.handshakeWorkers = num(a, next(), 1, 256);
        break;
      case '--sections': {
        const list = next()
          .split(',')
          .map(s => s.trim())
          .filter(Boolean);
        for (const s of list)
          if (!(ALL_SECTIONS as readonly string[]).includes(s)) throw new UsageError(`unknown section ${s} (${ALL_SECTIONS.join(', ')})`);
        o.sections = ALL_SECTIONS.filter(s => list.includes(s));
        break;
      }
      case '--out':
        o.outDir = next();
        break;
      case '--server-cpu':
        o.serverCpu = num(a, next(), 0, 4095);
        break;
      case '--load-cpu':
        o.loadCpu = num(a, next(), 0, 4095);
        break;
      case '--log-file':
        o.logFile = next();
        break;
      case '--cpu-prof':
        o.cpuProfDir = next();
        break;
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  if (o.serverCpu === o.loadCpu) throw new UsageError('--server-cpu and --load-cpu must differ');
  return o;
}
