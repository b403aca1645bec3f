/**
 * `npm run pki -- [--dir certs/dev] [--force] [--ocsp-url URL] [--crl-url URL] [--container-dir DIR [--container-gid 10001]]`
 * Generates (or reuses) the dev PKI and prints what is there. Exit 0 on success, 1 on any error
 * (usage errors included).
 *
 * `--container-dir DIR` also writes a directory ready to mount into the image (uid/gid 10001):
 * DIR/tls (server.crt, server.key, ca-bundle.crt, root.crl.pem, intermediate.crl.pem: TLS_DIR)
 * and DIR/health (client.crt, client.key of the `valid` dev client: HEALTH_CLIENT_DIR). Keys
 * are 0440 and certificates 0444, owned by root with group 10001 (`--container-gid`), the
 * directories 0750 root:10001: the container's user reads them through its group, nobody else
 * on the host does. Changing the group needs root (sudo, or `podman unshare` for rootless
 * podman); without it the command fails and says so (never a world-readable key).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {DevPkiManifest, ensureDevPki, generateDevPki} from './dev-pki';

export interface PkiCliArgs {
  dir: string;
  force: boolean;
  ocspUrl?: string;
  crlUrl?: string;
  /** Write a directory ready to mount for the container user (see the file comment). */
  containerDir?: string;
  /** Group of the container user (default 10001). */
  containerGid?: number;
  help: boolean;
}

export class UsageError extends Error {}

const USAGE = 'usage: npm run pki -- [--dir certs/dev] [--force] [--ocsp-url URL] [--crl-url URL] [--container-dir DIR [--container-gid 10001]]\n';

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
      case '--container-dir': {
        const v = value();
        if (v === undefined || v === '' || v.startsWith('--')) throw new UsageError('--container-dir needs a value');
        out.containerDir = v;
        break;
      }
      case '--container-gid': {
        const v = value();
        if (v === undefined || !/^\d{1,10}$/.test(v) || Number(v) > 0xfffffffe) throw new UsageError('--container-gid needs a numeric gid');
        out.containerGid = Number(v);
        break;
      }
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

/** What `--container-dir` wrote (paths absolute). */
export interface ContainerPkiLayout {
  tlsDir: string;
  healthDir: string;
  /** The health-check identity, for MTLS_ALLOWED_SUBJECTS. */
  healthSubject: string;
  crlFiles: string[];
}

/**
 * Copies the server material and the `valid` client (as the health-check identity) into
 * DIR/tls and DIR/health, readable by group `gid` only (keys 0440, certificates 0444, dirs
 * 0750, owner root). Throws when the group cannot be set (not root).
 */
export function writeContainerPki(m: DevPkiManifest, dir: string, gid: number): ContainerPkiLayout {
  const root = path.resolve(dir);
  const tlsDir = path.join(root, 'tls');
  const healthDir = path.join(root, 'health');
  if (process.getuid?.() !== 0) {
    throw new Error(
      `--container-dir: setting group ${gid} on the keys needs root (sudo npm run pki -- --container-dir ${dir}, or podman unshare for rootless podman); refusing to write world-readable keys`,
    );
  }
  const files: [string, string, number][] = [
    [m.server.cert, path.join(tlsDir, 'server.crt'), 0o444],
    [m.server.key, path.join(tlsDir, 'server.key'), 0o440],
    [m.caBundle, path.join(tlsDir, 'ca-bundle.crt'), 0o444],
    [m.crls.root, path.join(tlsDir, 'root.crl.pem'), 0o444],
    [m.crls.intermediate, path.join(tlsDir, 'intermediate.crl.pem'), 0o444],
    [m.clients.valid.cert, path.join(healthDir, 'client.crt'), 0o444],
    [m.clients.valid.key, path.join(healthDir, 'client.key'), 0o440],
  ];
  for (const d of [root, tlsDir, healthDir]) {
    fs.mkdirSync(d, {recursive: true, mode: 0o750});
    fs.chownSync(d, 0, gid);
    fs.chmodSync(d, d === root ? 0o755 : 0o750);
  }
  for (const [src, dst, mode] of files) {
    const tmp = `${dst}.tmp-${process.pid}`;
    fs.copyFileSync(src, tmp);
    fs.chownSync(tmp, 0, gid);
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, dst);
  }
  return {
    tlsDir,
    healthDir,
    healthSubject: `uri:${m.clients.valid.uri}`,
    crlFiles: ['root.crl.pem', 'intermediate.crl.pem'].map(f => `/etc/hardened-mtls/tls/${f}`),
  };
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
    const res = args.force ? {manifest: await generateDevPki(opts), generated: true} : await ensureDevPki(opts);
    process.stdout.write(describeManifest(res.manifest, res.generated));
    if (args.containerDir !== undefined) {
      const gid = args.containerGid ?? 10001;
      const l = writeContainerPki(res.manifest, args.containerDir, gid);
      process.stdout.write(
        [
          `container directory (root:${gid}, keys 0440) in ${l.tlsDir} and ${l.healthDir}; for docker compose:`,
          `  TLS_DIR=${l.tlsDir} HEALTH_CLIENT_DIR=${l.healthDir} HEALTHCHECK_SERVERNAME=localhost \\`,
          `  TLS_CRL_FILES=${l.crlFiles.join(',')} MTLS_ALLOWED_SUBJECTS='${l.healthSubject}' docker compose up -d`,
          '',
        ].join('\n'),
      );
    }
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
