/**
 * Runs the openssl CLI (an implementation independent of the generator). A missing openssl
 * binary makes the calling test fail (spawn error), never skip.
 */
import {spawnSync} from 'node:child_process';

export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  output: string;
}

export function openssl(args: string[], input?: Buffer | string): OpensslResult {
  const r = spawnSync('openssl', args, {input, maxBuffer: 512 * 1024 * 1024, encoding: 'utf8'});
  if (r.error) throw r.error;
  return {status: r.status, stdout: r.stdout, stderr: r.stderr, output: r.stdout + r.stderr};
}

/** Runs openssl and throws (with its output) unless it exits 0. */
export function opensslOk(args: string[], input?: Buffer | string): string {
  const r = openssl(args, input);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.status}:\n${r.output}`);
  return r.stdout;
}

/** `openssl x509 -noout -text` of the first certificate in a file. */
export function certText(file: string): string {
  return opensslOk(['x509', '-in', file, '-noout', '-text']);
}

/** Every "Signature Algorithm:" value in openssl -text output. */
export function signatureAlgorithms(text: string): string[] {
  return [...text.matchAll(/Signature Algorithm: (\S+)/g)].map(m => m[1]);
}

/** The text of one named X509v3 extension block (header line + indented value lines), or undefined. */
export function extensionBlock(text: string, header: string): string | undefined {
  const lines = text.split('\n');
  const i = lines.findIndex(l => l.trim().startsWith(header));
  if (i < 0) return undefined;
  const indent = lines[i].search(/\S/);
  const out = [lines[i].trim()];
  for (let j = i + 1; j < lines.length; j++) {
    if (lines[j].search(/\S/) <= indent) break;
    out.push(lines[j].trim());
  }
  return out.join('\n');
}
