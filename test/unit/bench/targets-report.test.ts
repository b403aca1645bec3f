import assert from 'node:assert/strict';
import {fmt, fmtBytes, renderConsoleSummary, renderMarkdown, runStatus, table} from '../../../bench/lib/report';
import {summarizeAll} from '../../../bench/lib/stats';
import {evaluateRatios, evaluateTargets} from '../../../bench/lib/targets';
import type {BenchResults, CrlScaleRow, LoadRun} from '../../../bench/lib/types';
import {givenRun, givenWrk} from './fixtures';

function givenCrlRow(entries: number, lookupNs: number, eld = 20): CrlScaleRow {
  return {
    entries,
    fileBytes: entries * 40,
    loadMs: entries / 1000,
    reloadMs: entries / 1000,
    retainedBytes: entries * 24,
    rssDeltaBytes: entries * 30,
    eldMaxLoadMs: eld,
    eldMaxReloadMs: eld,
    cpuBlockMaxLoadMs: eld,
    cpuBlockMaxReloadMs: eld,
    lookupNsPresent: lookupNs,
    lookupNsAbsent: lookupNs,
    statusOfCertificateUs: 50,
    lookupsVerified: true,
  };
}

/**
 * Keep-alive runs where c costs `cpuFactor` x b and 0.8 x `cpuFactor` x d per request; handshake-only
 * runs where c costs `hsFactor` x a per handshake; connection-per-request runs where c does
 * `connFactor` x the connections of d (and of c-crl1m) with the same CPU.
 */
function givenResults(cpuFactor: number, hsFactor: number, crlEld = 20, connFactor = 1): BenchResults {
  const runs: LoadRun[] = [];
  for (let round = 0; round < 3; round++) {
    for (const conns of [10, 100]) {
      runs.push(givenRun({scenario: `keepalive-${conns}`, variant: 'b', round, cpuUs: 100_000}));
      runs.push(givenRun({scenario: `keepalive-${conns}`, variant: 'd', round, cpuUs: 125_000}));
      runs.push(
        givenRun({scenario: `keepalive-${conns}`, variant: 'c', round, cpuUs: 100_000 * cpuFactor, parses: {'tls.getPeerX509Certificate': 1}}),
      );
    }
    runs.push(givenRun({section: 'handshake', scenario: 'handshake-only', variant: 'a', round, requests: 0, newConnections: 600, cpuUs: 1_200_000}));
    runs.push(
      givenRun({
        section: 'handshake',
        scenario: 'handshake-only',
        variant: 'c',
        round,
        requests: 0,
        newConnections: 600,
        cpuUs: 1_200_000 * hsFactor,
      }),
    );
    runs.push(givenRun({section: 'connections', scenario: 'conn-per-request', variant: 'd', round, requests: 600, newConnections: 600}));
    runs.push(
      givenRun({
        section: 'connections',
        scenario: 'conn-per-request',
        variant: 'c',
        round,
        requests: 600 * connFactor,
        newConnections: 600 * connFactor,
      }),
    );
    runs.push(
      givenRun({
        section: 'connections',
        scenario: 'conn-per-request',
        variant: 'c-crl1m',
        round,
        requests: 600 * connFactor,
        newConnections: 600 * connFactor,
      }),
    );
  }
  return {
    version: 1,
    startedAt: '2030-01-01T00:00:00.000Z',
    finishedAt: '2030-01-01T00:10:00.000Z',
    config: {
      quick: false,
      rounds: 3,
      warmupS: 2,
      durationS: 10,
      handshakeConnections: 32,
      sections: ['keepalive', 'handshake', 'revocation'],
      crlSizes: [10_000, 1_000_000],
    },
    machine: {
      cpuModel: 'Test CPU',
      cpus: 2,
      memTotalBytes: 8 << 30,
      kernel: 'Linux',
      node: 'v20',
      openssl: '3.0',
      wrk: 'wrk 4.1.0',
      loadAvgAtStart: [0.1, 0.2, 0.3],
      serverCore: '0',
      loadCore: '1',
      clkTck: 100,
    },
    variants: {a: 'bare', b: 'plain', c: 'service'},
    runs,
    summaries: summarizeAll(runs),
    revocation: {
      crl: [givenCrlRow(10_000, 100), givenCrlRow(1_000_000, 120, crlEld)],
      serviceReload: [{entries: 1_000_000, reloadMs: 3000, eldMaxMs: crlEld, cpuBlockMaxMs: crlEld, requestsDuring: 100, errorsDuring: 0}],
      ocsp: [],
    },
    guards: [{name: 'guard inspectRequest, small JSON body (80 B)', us: 12.5}],
    startup: [{label: 'default CRLs', rounds: 3, startMs: 900, firstRequestMs: 950, idleRssBytes: 90 << 20}],
    notes: ['a note'],
  };
}

const byId = (res: BenchResults) => new Map(evaluateTargets(res).map(t => [t.id, t]));

describe('bench: targets and report (unit)', () => {
  const cases: [string, number, number, number, Record<string, string>][] = [
    [
      'all met',
      1.05,
      1,
      20,
      {
        'cpu-c-vs-b-10': 'met',
        'cpu-c-vs-b-100': 'met',
        'cpu-c-vs-d-10': 'met',
        'cpu-c-vs-d-100': 'met',
        'conn-c-vs-d': 'met',
        'handshake-only-c-vs-a': 'met',
        'handshake-crl1m-vs-c': 'met',
        'crl-lookup-o1': 'met',
        'crl-1m-load-eld': 'met',
        'service-1m-reload-eld': 'met',
        'parses-per-request': 'met',
      },
    ],
    [
      'CPU over 1.10x',
      1.5,
      1,
      20,
      {'cpu-c-vs-b-10': 'missed', 'cpu-c-vs-b-100': 'missed', 'cpu-c-vs-d-10': 'missed', 'handshake-only-c-vs-a': 'met'},
    ],
    ['handshake CPU 1.2x', 1, 1.2, 20, {'handshake-only-c-vs-a': 'missed', 'handshake-crl1m-vs-c': 'met'}],
    ['event loop blocked 150 ms', 1, 1, 150, {'crl-1m-load-eld': 'missed', 'crl-1m-reload-eld': 'missed', 'service-1m-reload-eld': 'missed'}],
  ];
  for (const [name, cpu, hs, eld, want] of cases) {
    it(`evaluates the issue's targets as ratios: ${name}`, () => {
      const got = byId(givenResults(cpu, hs, eld));
      for (const [id, status] of Object.entries(want)) assert.equal(got.get(id)?.status, status, id);
    });
  }

  it('computes the CPU ratio as the median of paired per-round ratios', () => {
    assert.equal(byId(givenResults(1.5, 1)).get('cpu-c-vs-b-100')?.value, 1.5);
    assert.equal(byId(givenResults(1, 0.5)).get('handshake-only-c-vs-a')?.value, 0.5);
    assert.equal(byId(givenResults(1, 1)).get('cpu-c-vs-d-10')?.value, 0.8);
    // c serves twice the connections of d with the same CPU: half the CPU per connection.
    assert.equal(byId(givenResults(1, 1, 20, 2)).get('conn-c-vs-d')?.value, 0.5);
  });

  it('prints the side-by-side ratios of (c) against (b), (d) and (a) per scenario', () => {
    const ratios = new Map(evaluateRatios(givenResults(1.2, 1.1)).map(r => [r.id, r.value]));
    assert.equal(ratios.get('keepalive-10:c/b'), 1.2);
    assert.equal(ratios.get('keepalive-100:c/d'), 0.96);
    assert.equal(ratios.get('handshake-only:c/a'), 1.1);
    assert.equal(ratios.get('conn-per-request:c/d'), 1);
    assert.equal(ratios.has('handshake-only:c/b'), false, 'no (b) handshake run, no ratio');
  });

  it('counts a handshake-only window without HTTP requests as clean', () => {
    const [s] = summarizeAll([
      givenRun({section: 'handshake', scenario: 'handshake-only', variant: 'a', round: 0, requests: 0, newConnections: 500}),
    ]);
    assert.equal(runStatus(s), 'clean (1 rounds)');
  });

  it('flags per-request certificate parsing', () => {
    const res = givenResults(1, 1);
    res.runs = res.runs.map(r =>
      r.variant === 'c' && r.scenario === 'keepalive-100' ? {...r, parses: {'peculiar.X509Certificate': r.requests}} : r,
    );
    res.summaries = summarizeAll(res.runs);
    const t = byId(res).get('parses-per-request')!;
    assert.equal(t.status, 'missed');
    assert.equal(t.value, 1);
  });

  it('reports n/a, not met, for what was not measured', () => {
    const res = givenResults(1, 1);
    res.runs = [];
    res.summaries = [];
    res.revocation = {crl: [], serviceReload: [], ocsp: []};
    for (const t of evaluateTargets(res)) assert.equal(t.status, 'n/a', t.id);
  });

  it('formats numbers and sizes', () => {
    assert.equal(fmt(1234.567, 1), '1,234.6');
    assert.equal(fmt(NaN), 'n/a');
    assert.equal(fmt(null), 'n/a');
    assert.equal(fmtBytes(512), '512 B');
    assert.equal(fmtBytes(3 << 20), '3.0 MiB');
  });

  it('renders markdown tables with escaped cells', () => {
    assert.equal(table(['a', 'b'], [['x|y', '1']]), '| a | b |\n| --- | ---: |\n| x\\|y | 1 |');
  });

  it('labels a summary with errors as ERRORS, never as clean', () => {
    const [s] = summarizeAll([
      givenRun({variant: 'c', round: 0, wrk: givenWrk({mismatches: 3, errors: {connect: 0, read: 1, write: 0, status: 0, timeout: 0}})}),
    ]);
    assert.match(runStatus(s), /^ERRORS: 1 socket errors, 3 wrong bodies$/);
    const [ok] = summarizeAll([givenRun({variant: 'c', round: 0})]);
    assert.equal(runStatus(ok), 'clean (1 rounds)');
    const [busy] = summarizeAll([givenRun({variant: 'a', round: 0, loadCpuUs: 1_900_000})]);
    assert.match(runStatus(busy), /load generator CPU 95% \(may be the bottleneck\)/);
  });

  it('renders every section, the machine and the targets into docs/benchmarks.md', () => {
    const res = givenResults(1.5, 0.5);
    const md = renderMarkdown(res, evaluateTargets(res), evaluateRatios(res));
    for (const heading of [
      '## Machine',
      '## Targets',
      '## Side by side',
      '## 1. Keep-alive',
      '### 10 connections',
      '### 100 connections',
      '## 2. TLS handshake only',
      '## 2b. New connection per request',
      '## 3. Revocation at scale',
      '## 4. Guard cost',
      '## 5. Start-up',
    ]) {
      assert.ok(md.includes(heading), heading);
    }
    assert.ok(md.includes('Test CPU (2 logical CPUs)'));
    assert.ok(md.includes('**MISSED**'));
    assert.ok(md.includes('| (c) this service |'));
    assert.ok(md.includes('| (d) nginx + plain LoopBack |'));
    assert.ok(md.includes('1.50x'));
    assert.ok(!md.includes('--quick (smoke mode'));
    const quick = {...res, config: {...res.config, quick: true}};
    assert.ok(renderMarkdown(quick, evaluateTargets(quick)).includes('--quick (smoke mode'));
    assert.ok(renderMarkdown(quick, evaluateTargets(quick)).includes('**Not a reference run.** Smoke mode'));
    assert.ok(!md.includes('Not a reference run'), 'a full run on a quiet machine carries no warning');
    const busy = {...res, machine: {...res.machine, loadAvgAtStart: [7.5, 6, 5]}};
    assert.match(renderMarkdown(busy, evaluateTargets(busy)), /Not a reference run.*load average 7\.50 6\.00 5\.00/);
  });

  it('prints a console summary with the targets', () => {
    const res = givenResults(1, 1);
    const text = renderConsoleSummary(res, evaluateTargets(res));
    assert.match(text, /keepalive-100 +\(c\) this service/);
    assert.match(text, /\[met\] keep-alive, 100 connections: server CPU per request/);
  });
});
