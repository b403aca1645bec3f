/** Data shapes of `npm run bench` (raw JSON in docs/benchmarks.json). */

/** handshake = TLS handshakes only (no HTTP); connections = one request per new connection. */
export type SectionId = 'keepalive' | 'handshake' | 'connections' | 'revocation' | 'guards' | 'startup';

export interface WrkErrors {
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
}

/** What wrk + verify.lua report for one run. */
export interface WrkResult {
  durationUs: number;
  requests: number;
  bytes: number;
  responses: number;
  badStatus: number;
  mismatches: number;
  errors: WrkErrors;
  latencyUs: {p50: number; p90: number; p99: number; max: number; mean: number};
  sample: string;
}

/** One measured load window of one variant in one round. */
export interface LoadRun {
  section: 'keepalive' | 'handshake' | 'connections' | 'guards';
  scenario: string;
  variant: string;
  round: number;
  connections: number;
  /** Length of the server-side measured window (s). */
  windowS: number;
  /** Server-side deltas over the window. */
  requests: number;
  newConnections: number;
  resumed: number;
  cpuUs: number;
  loadCpuUs: number;
  parses: Record<string, number>;
  eldMaxMs: number;
  /** wrk's view of the whole run (warm-up included). */
  wrk: WrkResult;
}

export interface LoadSummary {
  scenario: string;
  variant: string;
  rounds: number;
  /** Rounds whose wrk run had no error, no non-200 and no body mismatch. */
  cleanRounds: number;
  rps: number;
  connectionsPerS: number;
  cpuUsPerRequest: number;
  cpuUsPerConnection: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUtil: number;
  loadCpuUtil: number;
  eldMaxMs: number;
  totalRequests: number;
  totalConnections: number;
  totalResumed: number;
  /** wrk totals over all rounds. */
  errors: number;
  badStatus: number;
  mismatches: number;
  /** Certificate parses of each kind over all rounds, per request and per new connection. */
  parsesPerRequest: Record<string, number>;
  parsesPerConnection: Record<string, number>;
  firstProblem?: string;
}

export interface CrlScaleRow {
  entries: number;
  fileBytes: number;
  loadMs: number;
  reloadMs: number;
  /** Retained after load (heapUsed + external + arrayBuffers delta, after GC). */
  retainedBytes: number;
  rssDeltaBytes: number;
  eldMaxLoadMs: number;
  eldMaxReloadMs: number;
  /** The same, counting only the CPU this process used during each gap (preemption by other processes excluded). */
  cpuBlockMaxLoadMs: number;
  cpuBlockMaxReloadMs: number;
  /** RevocationIndex.status() (issuer + serial lookup). */
  lookupNsPresent: number;
  lookupNsAbsent: number;
  /** RevocationIndex.statusOfCertificate(leaf) for a real client certificate. */
  statusOfCertificateUs: number;
  lookupsVerified: boolean;
}

export interface ServiceReloadRow {
  entries: number;
  reloadMs: number;
  eldMaxMs: number;
  cpuBlockMaxMs: number;
  requestsDuring: number;
  errorsDuring: number;
}

export interface MicroResult {
  name: string;
  /** Per operation. */
  us: number;
  note?: string;
}

export interface StartupRow {
  label: string;
  rounds: number;
  startMs: number;
  firstRequestMs: number;
  idleRssBytes: number;
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memTotalBytes: number;
  kernel: string;
  node: string;
  openssl: string;
  wrk: string;
  loadAvgAtStart: number[];
  serverCore: string;
  loadCore: string;
  clkTck: number;
}

export interface BenchConfigRecord {
  quick: boolean;
  rounds: number;
  warmupS: number;
  durationS: number;
  handshakeConnections: number;
  /** Handshake-only client: concurrent sequential workers. */
  handshakeWorkers?: number;
  sections: SectionId[];
  crlSizes: number[];
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  finishedAt: string;
  config: BenchConfigRecord;
  machine: MachineInfo;
  /** How each variant was run (env, command), for the doc. */
  variants: Record<string, string>;
  runs: LoadRun[];
  summaries: LoadSummary[];
  revocation: {crl: CrlScaleRow[]; serviceReload: ServiceReloadRow[]; ocsp: MicroResult[]};
  guards: MicroResult[];
  startup: StartupRow[];
  notes: string[];
}

/** A ratio printed for information (paired per-round median and range), no limit. */
export interface RatioResult {
  id: string;
  description: string;
  value: number | null;
  detail: string;
}

export type TargetStatus = 'met' | 'missed' | 'n/a';

export interface TargetResult {
  id: string;
  description: string;
  /** Measured value (a ratio, a count or ms). */
  value: number | null;
  limit: number;
  op: '<=' | '>=';
  unit: string;
  status: TargetStatus;
  detail: string;
}
