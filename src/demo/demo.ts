/**
 * runDemo(): builds the stage, runs every scenario's real command, prints the command, what the
 * narration expects, what happened, why, and one result line per scenario:
 *   [ok] 01 valid-client: behaved as narrated
 *   [FAIL] 01 valid-client: did NOT behave as narrated: <difference>; <difference>
 * and returns whether every scenario behaved as narrated.
 */
import path from 'node:path';
import type {Readable, Writable} from 'node:stream';
import {compareOutcome, describeLogExpectation, describeLogLine, describeObserved, Expectation, logMatches, Observed} from './outcome';
import {PROJECT_ROOT, runCommand} from './processes';
import {buildScenarios, DemoCommand, postureSummary, Scenario} from './scenarios';
import {buildStage, Stage} from './stage';
import {EnterReader, formatCommand, makeStyles, Styles} from './terminal';

export interface DemoOptions {
  out: Writable;
  colour: boolean;
  /** Pause for Enter between scenarios (read from `stdin`). */
  step: boolean;
  stdin?: Readable;
  /** Register the stage for interrupt cleanup. */
  onStage?: (stage: Stage | undefined) => void;
}

export interface ScenarioResult {
  id: string;
  ok: boolean;
  differences: string[];
}

export interface DemoResult {
  ok: boolean;
  results: ScenarioResult[];
}

/** How long to wait for the audit line of a decision that has already been answered. */
const LOG_WAIT_MS = 5000;
const WIDTH = 100;

function wrap(text: string, indent: string, width = WIDTH): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line !== '' && indent.length + line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line === '' ? w : `${line} ${w}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l)).join('\n');
}

function shown(cmd: DemoCommand): string {
  return formatCommand(cmd.display ?? cmd.argv, cmd.stdin === '' ? {stdinDevNull: true} : cmd.stdin !== undefined ? {stdinText: cmd.stdin} : {});
}

async function run(cmd: DemoCommand): Promise<Observed> {
  const r = await runCommand(cmd.argv, {stdin: cmd.stdin ?? '', timeoutMs: 30_000});
  return cmd.observe(r);
}

function happened(o: Observed, scenario?: Scenario): string {
  if (o.kind === 'exit') {
    if (scenario?.id === 'posture-report') return `exit status ${o.exitCode}; ${postureSummary(o.stdout)}`;
    const text = (o.stdout + o.stderr)
      .trim()
      .split('\n')
      .filter(l => /error|OK|fail/i.test(l))
      .slice(0, 2)
      .join(' | ');
    return `exit status ${o.exitCode}${text ? `: ${text}` : ''}`;
  }
  return describeObserved(o);
}

export async function runScenario(stage: Stage, s: Scenario, index: number, total: number, out: Writable, st: Styles): Promise<ScenarioResult> {
  const w = (line = '') => out.write(`${line}\n`);
  const num = String(index + 1).padStart(2, '0');
  const label = (l: string) => st.dim(l.padEnd(10));
  w(st.bold(`[${num}/${String(total).padStart(2, '0')}] ${s.title}`));
  if (s.before) {
    w(`  ${label('first')}${wrap(s.before.say, ' '.repeat(12))}`);
    await s.before.run(stage);
  }
  w(`  ${st.cyan('$')} ${shown(s.command)}`);
  w(`  ${label('expected')}${wrap(s.expected, ' '.repeat(12))}`);

  const svc = s.service === 'main' ? stage.main : stage.ocspOnly;
  const from = svc.logs.length;
  const observed = await run(s.command);
  const differences = compareOutcome(s.expect, observed);
  w(`  ${label('happened')}${wrap(happened(observed, s), ' '.repeat(12))}`);

  if (s.log) {
    const exp = s.log;
    try {
      const line = await svc.waitForLog(l => logMatches(exp, l), from, LOG_WAIT_MS);
      w(`  ${label('audit')}${wrap(describeLogLine(line), ' '.repeat(12))}`);
    } catch {
      differences.push(`expected the audit line "${describeLogExpectation(exp)}", none was logged`);
      w(`  ${label('audit')}${st.red('no matching audit line')}`);
    }
  }
  for (const ev of s.evidence ?? []) {
    w(`  ${label('evidence')}${ev.label}:`);
    w(`  ${st.cyan('$')} ${shown(ev.command)}`);
    const evFrom = svc.logs.length;
    const o = await run(ev.command);
    w(`  ${label('')}${wrap(happened(o), ' '.repeat(12))}`);
    differences.push(...compareOutcome(ev.expect as Expectation, o).map(d => `evidence: ${d}`));
    if (ev.log) {
      const exp = ev.log;
      try {
        const line = await svc.waitForLog(l => logMatches(exp, l), evFrom, LOG_WAIT_MS);
        w(`  ${label('audit')}${wrap(describeLogLine(line), ' '.repeat(12))}`);
      } catch {
        differences.push(`evidence: expected the audit line "${describeLogExpectation(exp)}", none was logged`);
        w(`  ${label('audit')}${st.red('no matching audit line')}`);
      }
    }
  }
  w(`  ${label('why')}${wrap(s.why, ' '.repeat(12))}`);
  const ok = differences.length === 0;
  if (ok) w(`  ${st.green(`[ok] ${num} ${s.id}: behaved as narrated`)}`);
  else w(`  ${st.red(`[FAIL] ${num} ${s.id}: did NOT behave as narrated: ${differences.join('; ')}`)}`);
  w();
  return {id: s.id, ok, differences};
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const st = makeStyles(opts.colour);
  const w = (line = '') => opts.out.write(`${line}\n`);
  w(st.bold('hardened-mtls demo: a live service, real clients (curl, openssl), every refusal explained'));
  w(st.dim(`(project ${PROJECT_ROOT}; all listeners on 127.0.0.1; temporary files are removed at the end)`));
  w();
  w(st.bold('setup'));
  const stage = await buildStage((what, detail) => {
    const [first, ...rest] = detail.split('\n');
    w(`  ${st.dim(what.padEnd(16))}${first}`);
    for (const r of rest) w(`  ${' '.repeat(16)}${st.dim(r)}`);
  });
  opts.onStage?.(stage);
  const reader = opts.step ? new EnterReader(opts.stdin ?? process.stdin) : undefined;
  try {
    w(
      `  ${st.dim('started as'.padEnd(16))}${envLines(stage.envShown.main).join(` \\\n  ${' '.repeat(16)}`)} \\\n  ${' '.repeat(16)}node ${path.relative(PROJECT_ROOT, path.join(PROJECT_ROOT, 'dist', 'src', 'index.js'))}`,
    );
    w();
    const scenarios = buildScenarios(stage);
    const results: ScenarioResult[] = [];
    for (let i = 0; i < scenarios.length; i++) {
      results.push(await runScenario(stage, scenarios[i], i, scenarios.length, opts.out, st));
      if (reader && i < scenarios.length - 1) {
        opts.out.write(st.dim('  (press Enter for the next scenario) '));
        await reader.next();
        w();
      }
    }
    const passed = results.filter(r => r.ok).length;
    const ok = passed === results.length;
    const summary = `${passed} of ${results.length} scenarios behaved as narrated`;
    w(
      ok
        ? st.green(st.bold(summary))
        : st.red(
            st.bold(
              `${summary}; did not: ${results
                .filter(r => !r.ok)
                .map(r => r.id)
                .join(', ')}`,
            ),
          ),
    );
    return {ok, results};
  } finally {
    reader?.close();
    await stage.teardown();
    opts.onStage?.(undefined);
  }
}

function envLines(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}
