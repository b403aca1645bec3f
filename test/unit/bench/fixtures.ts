/** givenX() helpers for the bench unit tests: synthetic runs with known numbers. */
import type {LoadRun, WrkResult} from '../../../bench/lib/types';

export function givenWrk(over: Partial<WrkResult> = {}): WrkResult {
  return {
    durationUs: 3_000_000,
    requests: 1000,
    bytes: 100_000,
    responses: 1000,
    badStatus: 0,
    mismatches: 0,
    errors: {connect: 0, read: 0, write: 0, status: 0, timeout: 0},
    latencyUs: {p50: 1000, p90: 2000, p99: 4000, max: 9000, mean: 1200},
    sample: '',
    ...over,
  };
}

export function givenRun(over: Partial<LoadRun> & Pick<LoadRun, 'variant' | 'round'>): LoadRun {
  return {
    section: 'keepalive',
    scenario: 'keepalive-100',
    connections: 100,
    windowS: 2,
    requests: 1000,
    newConnections: 1,
    resumed: 0,
    cpuUs: 100_000,
    loadCpuUs: 50_000,
    parses: {},
    eldMaxMs: 3,
    wrk: givenWrk(),
    ...over,
  };
}
