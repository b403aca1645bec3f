/**
 * Reading `openssl x509 -text` output (openssl itself runs through test/fixtures/openssl.ts).
 */
import {opensslOk} from '../../fixtures/openssl';

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
