/** Report writers: JUnit XML, JSON, a self-contained HTML page and SARIF 2.1.0. */
import fs from 'node:fs';
import path from 'node:path';
import type {SuiteResult} from '../runner';
import {renderHtml} from './html';
import {renderJUnit} from './junit';
import {renderSarif} from './sarif';

export {renderHtml} from './html';
export {renderJUnit} from './junit';
export {renderSarif} from './sarif';
export {escapeHtml, escapeXml, visible} from './text';

export const REPORT_FORMATS = ['junit', 'json', 'html', 'sarif'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Written when no --report is given (SARIF on request: --report sarif). */
export const DEFAULT_REPORT_FORMATS: readonly ReportFormat[] = ['junit', 'json', 'html'];

export const REPORT_FILES: Readonly<Record<ReportFormat, string>> = {
  junit: 'escape-junit.xml',
  json: 'escape-report.json',
  html: 'escape-report.html',
  sarif: 'escape-report.sarif',
};

export function renderJson(result: SuiteResult): string {
  return JSON.stringify(result, null, 2) + '\n';
}

/** Writes the requested reports into `outDir`; returns the files written. */
export function writeReports(
  result: SuiteResult,
  outDir: string,
  formats: readonly ReportFormat[] = DEFAULT_REPORT_FORMATS,
): Record<ReportFormat, string> {
  fs.mkdirSync(outDir, {recursive: true});
  const written = {} as Record<ReportFormat, string>;
  for (const f of formats) {
    const file = path.join(outDir, REPORT_FILES[f]);
    const text = f === 'junit' ? renderJUnit(result) : f === 'json' ? renderJson(result) : f === 'sarif' ? renderSarif(result) : renderHtml(result);
    fs.writeFileSync(file, text, 'utf8');
    written[f] = file;
  }
  return written;
}
