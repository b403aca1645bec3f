import assert from 'node:assert/strict';
import {fmt, fmtBytes, renderConsoleSummary, renderMarkdown, runStatus, table} from '../../../bench/lib/report';
import {summarizeAll} from '../../../bench/lib/stats';
import {evaluateTargets} from '../../../bench/lib/targets';
import type {BenchResults, CrlScaleRow, LoadRun} from '../../../bench/lib/types';
import {givenRun, givenWrk} from './fixtures';

function givenCrlRow(entries: number, lookupNs: number, eld = 20): CrlScaleRow {
  return {
    entries, fileBytes: entries * 40, loadMs: entries / 1000, reloadMs: entries / 1000, retainedBytes: entries * 24, rssDeltaBytes: entries * 30,
    eldMaxLoadMs: eld, eldMaxReloadMs: eld, cpuBlockMaxLoadMs: eld, cpuBlockMaxReloadMs: eld, lookupNsPresent: lookupNs, lookupNsAbsent: lookupNs, statusOfCertificateUs: 50, lookupsVerified: true,
  };
}

/** b and c keep-alive runs where c costs `cpuFactor` x b, a and c handshake runs where c does `hsFactor` x a. */
function givenResults(cpuFactor: number, hsFactor: number, crlEld = 20): BenchResults {
  const runs: LoadRun[] = [];
  for (let round = 0; round < 3; round++) {
    for (const conns of [10, 100]) {
      runs.push(givenRun({scenario: `keepalive-${conns}`, variant: 'b', round, cpuUs: 100_000}));
      runs.push(givenRun({scenario: `keepalive-${conns}`, variant: 'c', round, cpuUs: 100_000 * cpuFactor, parses: {'tls.getPeerX509Certificate': 1}}));
    }
    runs.push(givenRun({section: 'handshake', scenario: 'handshake', variant: 'a', round, requests: 600, newConnections: 600}));
    runs.push(givenRun({section: 'handshake', scenario: 'handshake', variant: 'c', round, requests: 600 * hsFactor, newConnections: 600 * hsFactor}));
    runs.push(givenRun({section: 'handshake', scenario: 'handshake', variant: 'c-crl1m', round, requests: 600 * hsFactor, newConnections: 600 * hsFactor}));
  }
  return {
    version: 1, startedAt: '2030-01-01T00:00:00.000Z', finishedAt: '2030-01-01T00:10:00.000Z',
    config: {quick: false, rounds: 3, warmupS: 2, durationS: 10, handshakeConnections: 32, sections: ['keepalive', 'handshake', 'revocation'], crlSizes: [10_000, 1_000_000]},
    machine: {cpuModel: 'Test CPU', cpus: 2, memTotalBytes: 8 << 30, kernel: 'Linux', node: 'v20', openssl: '3.0', wrk: 'wrk 4.1.0', loadAvgAtStart: [0.1, 0.2, 0.3], serverCore: '0', loadCore: '1', clkTck: 100},
    variants: {a: 'bare', b: 'plain', c: 'service'},
    runs, summaries: summarizeAll(runs),
    revocation: {crl: [givenCrlRow(10_000, 100), givenCrlRow(1_000_000, 120, crlEld)], serviceReload: [{entries: 1_000_000, reloadMs: 3000, eldMaxMs: crlEld, cpuBlockMaxMs: crlEld, requestsDuring: 100, errorsDuring: 0}], ocsp: []},
    guards: [{name: 'guard inspectRequest, small JSON body (80 B)', us: 12.5}],
    startup: [{label: 'default CRLs', rounds: 3, startMs: 900, firstRequestMs: 950, idleRssBytes: 90 << 20}],
    notes: ['a note'],
  };
}

const byId = (res: BenchResults) => new Map(evaluateTargets(res).map(t => [t.id, t]));

describe('bench: targets and report (unit)', () => {
  const cases: [string, number, number, number, Record<string, string>][] = [
    ['all met', 1.05, 1, 20, {'cpu-c-vs-b-10': 'met', 'cpu-c-vs-b-100': 'met', 'handshake-c-vs-a': 'met', 'handshake-crl1m-vs-c': 'met', 'crl-lookup-o1': 'met', 'crl-1m-load-eld': 'met', 'service-1m-reload-eld': 'met', 'parses-per-request': 'met'}],
    ['CPU over 1.10x', 1.5, 1, 20, {'cpu-c-vs-b-10': 'missed', 'cpu-c-vs-b-100': 'missed', 'handshake-c-vs-a': 'met'}],
    ['handshakes under 0.90x', 1, 0.5, 20, {'handshake-c-vs-a': 'missed', 'handshake-crl1m-vs-c': 'met'}],
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
    assert.equal(byId(givenResults(1, 0.5)).get('handshake-c-vs-a')?.value, 0.5);
  });

  it('flags per-request certificate parsing', () => {
    const res = givenResults(1, 1);
    res.runs = res.runs.map(r => (r.variant === 'c' && r.scenario === 'keepalive-100' ? {...r, parses: {'peculiar.X509Certificate': r.requests}} : r));
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
    const [s] = summarizeAll([givenRun({variant: 'c', round: 0, wrk: givenWrk({mismatches: 3, errors: {connect: 0, read: 1, write: 0, status: 0, timeout: 0}})})]);
    assert.match(runStatus(s), /^ERRORS: 1 socket errors, 3 wrong bodies$/);
    const [ok] = summarizeAll([givenRun({variant: 'c', round: 0})]);
    assert.equal(runStatus(ok), 'clean (1 rounds)');
    const [busy] = summarizeAll([givenRun({variant: 'a', round: 0, loadCpuUs: 1_900_000})]);
    assert.match(runStatus(busy), /load generator CPU 95% \(may be the bottleneck\)/);
  });

  it('renders every section, the machine and the targets into docs/benchmarks.md', () => {
    const res = givenResults(1.5, 0.5);
    const md = renderMarkdown(res, evaluateTargets(res));
    for (const heading of ['## Machine', '## Targets', '## 1. Keep-alive', '### 10 connections', '### 100 connections', '## 2. New connections', '## 3. Revocation at scale', '## 4. Guard cost', '## 5. Start-up']) {
      assert.ok(md.includes(heading), heading);
    }
    assert.ok(md.includes('Test CPU (2 logical CPUs)'));
    assert.ok(md.includes('**MISSED**'));
    assert.ok(md.includes('| (c) this service |'));
    assert.ok(md.includes('1.50x'));
    assert.ok(!md.includes('--quick (smoke mode'));
    const quick = {...res, config: {...res.config, quick: true}};
    assert.ok(renderMarkdown(quick, evaluateTargets(quick)).includes('--quick (smoke mode'));
  });

  it('prints a console summary with the targets', () => {
    const res = givenResults(1, 1);
    const text = renderConsoleSummary(res, evaluateTargets(res));
    assert.match(text, /keepalive-100 +\(c\) this service/);
    assert.match(text, /\[met\] keep-alive, 100 connections: server CPU per request/);
  });
});
