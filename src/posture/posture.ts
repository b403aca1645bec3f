/**
 * Runtime posture self-check (pure policy).
 *
 * `assessPosture()` (the evaluator; the checks are the table in posture-checks.ts, the types
 * and parsers are in posture-model.ts, re-exported here) turns facts about the running process (the text of /proc/self/status and
 * /proc/self/mountinfo, ids, and answers from injected probe functions) into a report of
 * findings. It performs no I/O of its own: `posture-io.ts` gathers the real inputs, the unit
 * tests feed captured /proc fixture texts.
 *
 * Every finding has a stable id, a severity, and the references it implements:
 *  - CIS Docker Benchmark v1.6.0 §4 (images) / §5 (container runtime), numbered as in
 *    docker-bench-security v1.6.0;
 *  - Kubernetes Pod Security Standards (PSS) "baseline" / "restricted" controls;
 *  - the escape-attempt catalog's runtime cases (`covers`: RT-001 … RT-023), each of which
 *    the posture check answers.
 *
 * Fail closed: a fact that is missing, unreadable or unparseable makes its finding fail.
 * `compliant` is true only when every finding of severity `high` or `medium` is ok;
 * `low` findings are advisory (they are reported, never block start-up).
 *
 * Pure module: no LoopBack imports, no fs/process access.
 */
import {POSTURE_CHECKS} from './posture-checks';
import {
  CAP_NET_BIND_SERVICE,
  CheckContext,
  FindingStatus,
  hexMask,
  MountEntry,
  need,
  parseMountinfo,
  parseStatus,
  PostureCheck,
  PostureFinding,
  PostureInput,
  PostureOptions,
  PostureReport,
  UNPROVABLE_CHECKS,
} from './posture-model';

export * from './posture-model';
export {POSTURE_CHECKS} from './posture-checks';

function run(check: PostureCheck, ctx: CheckContext, accept: ReadonlySet<string>): PostureFinding {
  let status: FindingStatus, detail: string;
  try {
    const [v, d] = check.evaluate(ctx);
    status = v === 'unproven' ? 'unproven' : v ? 'pass' : 'fail';
    detail = d;
  } catch (e) {
    status = 'fail';
    detail = `could not be assessed: ${(e as Error).message ?? String(e)}`;
  }
  const f: PostureFinding = {
    id: check.id,
    ok: status === 'pass',
    status,
    severity: check.severity,
    detail,
    references: check.references,
    covers: check.covers,
  };
  if (status === 'unproven' && accept.has(check.id)) f.accepted = true;
  return f;
}

export function assessPosture(input: PostureInput, opts: PostureOptions = {}): PostureReport {
  const status = parseStatus(input.status ?? '');
  let mountsCache: MountEntry[] | undefined;
  const ctx: CheckContext = {
    input,
    status,
    mounts: () => (mountsCache ??= parseMountinfo(input.mountinfo ?? '')),
    probe: () => need(input.probe, 'filesystem probe'),
    capMask: field => hexMask(status.get(field)),
    allowedCaps: opts.allowNetBindService ? 1n << BigInt(CAP_NET_BIND_SERVICE) : 0n,
    maxProcs: opts.maxVisibleProcesses ?? 64,
  };
  const checks: PostureCheck[] = [...POSTURE_CHECKS];
  const accept = new Set(opts.acceptUnproven ?? []);
  const badAccept = [...accept].filter(id => !UNPROVABLE_CHECKS.includes(id));
  if (badAccept.length > 0) {
    checks.push({
      id: 'posture-options',
      severity: 'high',
      covers: [],
      references: ['POSTURE_ACCEPT_UNPROVEN'],
      evaluate: () => [
        false,
        `acceptUnproven names checks that cannot be unproven: ${badAccept.join(', ')} (allowed: ${UNPROVABLE_CHECKS.join(', ')})`,
      ],
    });
  }
  const findings = checks.map(c => run(c, ctx, accept));
  const failed = findings.filter(f => f.severity !== 'low' && (f.status === 'fail' || (f.status === 'unproven' && !f.accepted))).map(f => f.id);
  const unproven = findings.filter(f => f.status === 'unproven').map(f => f.id);
  return {compliant: failed.length === 0, findings, failed, unproven};
}

/** Every escape-catalog runtime case id the posture check covers (a unit test keeps this in step). */
export const COVERED_RUNTIME_CASES: readonly string[] = Array.from({length: 23}, (_v, i) => `RT-${String(i + 1).padStart(3, '0')}`);

/** Text rendering of a report (the CLI's default format). */
export function formatReport(report: PostureReport): string {
  const lines = [
    `posture: ${report.compliant ? 'COMPLIANT' : 'NON-COMPLIANT'}${report.failed.length ? ` (failed: ${report.failed.join(', ')})` : ''}`,
  ];
  for (const f of report.findings) {
    const mark = f.ok ? 'ok  ' : f.status === 'unproven' ? (f.accepted ? 'acpt' : 'UNPR') : f.severity === 'low' ? 'warn' : 'FAIL';
    lines.push(`  [${mark}] ${f.id.padEnd(30)} ${f.detail}`);
    lines.push(`         ${f.covers.join(',')} | ${f.references.join('; ')}`);
  }
  return lines.join('\n') + '\n';
}
