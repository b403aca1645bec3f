/**
 * `npm run pki -- [--dir certs/dev] [--force] [--ocsp-url URL] [--crl-url URL]`
 * Generates (or reuses) the dev PKI and prints what is there. Exit 0 on success, 1 on any error
 * (usage errors included).
 */
import * as path from 'node:path';
import {DevPkiManifest, ensureDevPki, generateDevPki} from './dev-pki';

export interface PkiCliArgs {
  dir: string;
  force: boolean;
  ocspUrl?: string;
  crlUrl?: string;
  help: boolean;
}

export class UsageError extends Error {}

const USAGE = 'usage: npm run pki -- [--dir certs/dev] [--force] [--ocsp-url URL] [--crl-url URL]\n';

function httpUrl(flag: string, v: string | undefined): string {
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`${flag}: not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${flag}: must be an http(s) URL`);
  return v;
}

export function parsePkiArgs(argv: readonly string[]): PkiCliArgs {
  const out: PkiCliArgs = {dir: 'certs/dev', force: false, help: false};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--dir': {
        const v = value();
        if (v === undefined || v === '' || v.startsWith('--')) throw new UsageError('--dir needs a value');
        out.dir = v;
        break;
      }
      case '--force':
        out.force = true;
        break;
      case '--ocsp-url':
        out.ocspUrl = httpUrl('--ocsp-url', value());
        break;
      case '--crl-url':
        out.crlUrl = httpUrl('--crl-url', value());
        break;
      case '-h':
      case '--help':
        out.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${a}`);
    }
  }
  return out;
}

export function describeManifest(m: DevPkiManifest, generated: boolean): string {
  const rel = (p: string): string => {
    const r = path.relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') || path.isAbsolute(r) ? p : r;
  };
  const lines = [
    `${generated ? 'generated' : 'reused'} dev PKI in ${rel(m.dir)} (generatedAt ${m.generatedAt})`,
    `  root CA          ${rel(m.rootCa.cert)}  ${rel(m.rootCa.key)}`,
    `  intermediate CA  ${rel(m.intermediateCa.cert)}  ${rel(m.intermediateCa.key)}`,
    `  CA bundle        ${rel(m.caBundle)}`,
    `  server           ${rel(m.server.cert)}  ${rel(m.server.key)}  (notAfter ${m.server.notAfter})`,
    `  OCSP responder   ${rel(m.ocspResponder.cert)}  ${rel(m.ocspResponder.key)}`,
    `  untrusted CA     ${rel(m.untrustedCa.cert)}  ${rel(m.untrustedCa.key)}`,
    `  CRLs             ${rel(m.crls.root)}  ${rel(m.crls.intermediate)}`,
    `  openssl index    ${rel(m.opensslIndex)}`,
    `  clients:`,
    ...Object.entries(m.clients).map(([name, c]) => `    ${name.padEnd(16)} ${rel(c.cert)}  ${rel(c.key)}  ${rel(c.chain)}  serial ${c.serialHex}`),
    `  manifest         ${rel(path.join(m.dir, 'manifest.json'))}`,
  ];
  return lines.join('\n') + '\n';
}

export async function runPkiCli(argv: readonly string[]): Promise<number> {
  let args: PkiCliArgs;
  try {
    args = parsePkiArgs(argv);
  } catch (e) {
    process.stderr.write(`pki: ${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const opts = {dir: args.dir, ocspUrl: args.ocspUrl, crlUrl: args.crlUrl};
    const res = args.force
      ? {manifest: await generateDevPki(opts), generated: true}
      : await ensureDevPki(opts);
    process.stdout.write(describeManifest(res.manifest, res.generated));
    return 0;
  } catch (e) {
    process.stderr.write(`pki: failed: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  runPkiCli(process.argv.slice(2)).then(
    code => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
