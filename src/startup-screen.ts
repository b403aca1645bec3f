/**
 * What `npm start` prints on stdout for a person, next to the JSON log lines (PRINT_BANNER):
 *   - the banner: the URL and a curl line that presents a client certificate;
 *   - in development on a terminal, one readable posture summary in place of the posture JSON
 *     line (a developer machine fails most container checks, by design of the check).
 * Pure text rendering: main()/startService() decide when to print (index.ts).
 */
import type {PostureReport} from './posture';

function shellQuote(p: string): string {
  return /^[\w./:@=+-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

export interface BannerInput {
  url: string;
  /** CA bundle that signed the server certificate, client certificate and key (paths as shown). */
  serverCa: string;
  cert: string;
  key: string;
}

/** "listening on URL" and a curl line that returns the caller's identity. */
export function formatBanner(b: BannerInput): string {
  return (
    `\nhardened-mtls listening on ${b.url}\n` +
    `try:\n  curl --cacert ${shellQuote(b.serverCa)} --cert ${shellQuote(b.cert)} --key ${shellQuote(b.key)} ${b.url}/whoami\n\n`
  );
}

function clip(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * One readable summary of a posture report for a developer's terminal: what failed (one line per
 * check), that this is expected outside the hardened container, and how to see the details.
 */
export function formatPostureSummary(report: PostureReport, opts: {columns?: number} = {}): string {
  const columns = Math.max(60, Math.min(opts.columns || 100, 160));
  const failed = report.findings.filter(f => !f.ok && f.severity !== 'low' && !f.accepted);
  const advisories = report.findings.filter(f => !f.ok && f.severity === 'low');
  if (failed.length === 0) {
    const notes = advisories.length ? ` (${advisories.length} advisory: ${advisories.map(f => f.id).join(', ')})` : '';
    return `posture: compliant, ${report.findings.length} checks passed${notes}\n`;
  }
  const idWidth = Math.min(30, Math.max(...failed.map(f => f.id.length)));
  const lines = [
    '',
    `posture self-check: ${failed.length} of ${report.findings.length} checks fail here (POSTURE_MODE=warn: starting anyway)`,
    ...failed.map(f => `  ${f.status === 'unproven' ? '?' : '✗'} ${f.id.padEnd(idWidth)}  ${clip(f.detail, columns - idWidth - 6)}`),
  ];
  if (failed.some(f => f.status === 'unproven')) {
    lines.push('  (? = cannot be proven from inside the process; POSTURE_ACCEPT_UNPROVEN names what the deployment provides)');
  }
  if (advisories.length) lines.push(`  (${advisories.length} advisory: ${advisories.map(f => f.id).join(', ')})`);
  lines.push(
    'This is expected on a developer machine: the check looks for the locked-down container',
    '(non-root, no capabilities, read-only root, no runtime socket, ...). With NODE_ENV=production',
    'or POSTURE_MODE=enforce the service refuses to start on any of these.',
    'Details: npm run posture  (JSON log lines: run without a terminal, e.g. npm start | cat)',
    '',
  );
  return lines.join('\n') + '\n';
}
