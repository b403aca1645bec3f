import assert from 'node:assert/strict';
import {
  isCleanRun,
  median,
  pairedRatios,
  parseProcStatCpuTicks,
  parseProcStatusRssBytes,
  parseWrkOutput,
  percentile,
  ratio,
  rotate,
  summarizeAll,
  summarizeRuns,
  wrkProblemCount,
} from '../../../bench/lib/stats';
import {givenRun, givenWrk} from './fixtures';

describe('bench: stats (unit)', () => {
  const medians: [number[], number][] = [
    [[3], 3],
    [[1, 3], 2],
    [[5, 1, 3], 3],
    [[4, 1, 3, 2], 2.5],
    [[1, NaN, 3], 2],
    [[], NaN],
  ];
  for (const [xs, want] of medians) {
    it(`median(${JSON.stringify(xs)}) = ${want}`, () => {
      assert.ok(Object.is(median(xs), want) || median(xs) === want);
    });
  }

  it('percentile interpolates between ranks and clamps at the ends', () => {
    const xs = [10, 20, 30, 40, 50];
    assert.equal(percentile(xs, 0), 10);
    assert.equal(percentile(xs, 50), 30);
    assert.equal(percentile(xs, 90), 46);
    assert.equal(percentile(xs, 100), 50);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('ratio is null for a zero or non-finite operand', () => {
    assert.equal(ratio(3, 2), 1.5);
    assert.equal(ratio(1, 0), null);
    assert.equal(ratio(NaN, 2), null);
    assert.equal(ratio(2, Infinity), null);
  });

  it('parses utime+stime from /proc/<pid>/stat, also when comm holds spaces and parentheses', () => {
    const tail = 'S 1 2 3 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 11 0 500 1000 200';
    assert.equal(parseProcStatCpuTicks(`4242 (node) ${tail}`), 1234 + 567);
    assert.equal(parseProcStatCpuTicks(`4242 (my (odd) name) ${tail}`), 1234 + 567);
    assert.throws(() => parseProcStatCpuTicks('garbage'));
  });

  it('parses VmRSS from /proc/<pid>/status', () => {
    assert.equal(parseProcStatusRssBytes('Name:\tnode\nVmRSS:\t  102400 kB\nThreads:\t11\n'), 102400 * 1024);
    assert.throws(() => parseProcStatusRssBytes('Name:\tnode\n'));
  });

  it('reads the BENCH_RESULT line of verify.lua and refuses output without one', () => {
    const w = givenWrk({mismatches: 2});
    assert.deepEqual(parseWrkOutput(`Running 3s test\n  10 connections\nBENCH_RESULT ${JSON.stringify(w)}\n`), w);
    assert.throws(() => parseWrkOutput('Running 3s test\nunable to connect\n'), /no BENCH_RESULT/);
  });

  const problems: [string, Parameters<typeof givenWrk>[0], number][] = [
    ['clean', {}, 0],
    ['socket errors', {errors: {connect: 1, read: 2, write: 0, status: 0, timeout: 3}}, 6],
    ['non-200', {badStatus: 4}, 4],
    ['wrong bodies', {mismatches: 5}, 5],
  ];
  for (const [name, over, want] of problems) {
    it(`counts wrk problems: ${name}`, () => {
      assert.equal(wrkProblemCount(givenWrk(over)), want);
      assert.equal(isCleanRun(givenRun({variant: 'a', round: 0, wrk: givenWrk(over)})), want === 0);
    });
  }

  it('a run that served nothing is not clean', () => {
    assert.equal(isCleanRun(givenRun({variant: 'a', round: 0, requests: 0})), false);
  });

  it('summarizes rounds by medians and totals parses per request and per connection', () => {
    const runs = [
      givenRun({variant: 'c', round: 0, requests: 1000, cpuUs: 100_000, newConnections: 2, parses: {'tls.getPeerX509Certificate': 2}}),
      givenRun({variant: 'c', round: 1, requests: 2000, cpuUs: 300_000, newConnections: 2, parses: {'tls.getPeerX509Certificate': 2}}),
      givenRun({
        variant: 'c',
        round: 2,
        requests: 1000,
        cpuUs: 120_000,
        newConnections: 0,
        parses: {},
        wrk: givenWrk({badStatus: 1, sample: 'status 401'}),
      }),
    ];
    const s = summarizeRuns(runs);
    assert.equal(s.rounds, 3);
    assert.equal(s.cleanRounds, 2);
    assert.equal(s.cpuUsPerRequest, 120); // medians of 100, 150, 120
    assert.equal(s.rps, 500); // 1000/2, 2000/2, 1000/2
    assert.equal(s.totalRequests, 4000);
    assert.equal(s.totalConnections, 4);
    assert.equal(s.parsesPerConnection['tls.getPeerX509Certificate'], 1);
    assert.equal(s.parsesPerRequest['tls.getPeerX509Certificate'], 0.001);
    assert.equal(s.badStatus, 1);
    assert.equal(s.firstProblem, 'status 401');
  });

  it('groups runs per (scenario, variant) in first-seen order', () => {
    const all = summarizeAll([
      givenRun({variant: 'a', round: 0}),
      givenRun({variant: 'b', round: 0}),
      givenRun({variant: 'a', round: 1}),
      givenRun({variant: 'a', round: 0, scenario: 'keepalive-10'}),
    ]);
    assert.deepEqual(
      all.map(s => `${s.scenario}/${s.variant}/${s.rounds}`),
      ['keepalive-100/a/2', 'keepalive-100/b/1', 'keepalive-10/a/1'],
    );
  });

  it('pairs ratios by round and skips rounds where one side is missing', () => {
    const runs = [
      givenRun({variant: 'c', round: 0, cpuUs: 220_000}),
      givenRun({variant: 'b', round: 0, cpuUs: 200_000}),
      givenRun({variant: 'c', round: 1, cpuUs: 300_000}),
      givenRun({variant: 'b', round: 1, cpuUs: 200_000}),
      givenRun({variant: 'c', round: 2, cpuUs: 300_000}),
    ];
    assert.deepEqual(
      pairedRatios(runs, 'keepalive-100', 'c', 'b', r => r.cpuUs / r.requests),
      [1.1, 1.5],
    );
  });

  it('rotates the variant order per round', () => {
    assert.deepEqual(rotate(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
    assert.deepEqual(rotate(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
    assert.deepEqual(rotate(['a', 'b', 'c'], 5), ['c', 'a', 'b']);
    assert.deepEqual(rotate([], 3), []);
  });
});
