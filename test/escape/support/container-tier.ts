/**
 * The escape suite in the container tier (test/container/escape.test.ts): what a container-tier
 * test calls to run the whole catalog against the built image (podman + runc, compose flags,
 * internal network): every runtime case runs inside the image (`--runtime exec:podman exec ...`),
 * the url-param cases are "not applicable" (no harness inside the image).
 *
 *   const t = await generateTargetPki(path.join(work, 'escape'));
 *   const vars = layOutContainerTls(t, tlsDir, healthDir);            // before `podman run`
 *   const compose = loadCompose({TLS_DIR: tlsDir, HEALTH_CLIENT_DIR: healthDir, ...vars});
 *   ... podman run ... ; containerPid = podman inspect {{.State.Pid}}
 *   const {code, result} = await runEscapeInContainerNetns({t, containerPid, container: name, outDir});
 *   assert.equal(code, 0); // no failed case
 */
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {LOCAL_ALLOWED_SUBJECTS, TargetPki} from '../../../src/escape/local-target';
import {REPORT_FILES} from '../../../src/escape/report';
import type {SuiteResult} from '../../../src/escape/runner';

export const RUNTIME_UID = 10001;
/** Where docker-compose.yml mounts TLS_DIR. */
export const CONTAINER_TLS_DIR = '/etc/hardened-mtls/tls';

/** Copies the server material and CRLs into TLS_DIR and a health-check identity into HEALTH_CLIENT_DIR (owned by uid 10001); returns the compose variables. */
export function layOutContainerTls(t: TargetPki, tlsDir: string, healthDir: string): Record<string, string> {
  const put = (src: string, dst: string, mode: number) => {
    fs.copyFileSync(src, dst);
    if (process.getuid?.() === 0) fs.chownSync(dst, RUNTIME_UID, RUNTIME_UID);
    fs.chmodSync(dst, mode);
  };
  put(t.pki.server.cert, path.join(tlsDir, 'server.crt'), 0o444);
  put(t.pki.server.key, path.join(tlsDir, 'server.key'), 0o400);
  // The client trust bundle with the authz category's second CA (second-ca-operator is admitted,
  // then refused by the policy's issuer binding), its CRL and the role policy.
  put(t.authz.bundle, path.join(tlsDir, 'ca-bundle.crt'), 0o444);
  put(t.authz.crl, path.join(tlsDir, 'second-ca.crl'), 0o444);
  put(t.authz.policy, path.join(tlsDir, 'policy.yaml'), 0o444);
  put(t.pki.crls.root, path.join(tlsDir, 'root-ca.crl'), 0o444);
  put(t.pki.crls.intermediate, path.join(tlsDir, 'intermediate-ca.crl'), 0o444);
  put(t.pki.clients.health.cert, path.join(healthDir, 'client.crt'), 0o444);
  put(t.pki.clients.health.key, path.join(healthDir, 'client.key'), 0o400);
  return {
    MTLS_ALLOWED_SUBJECTS: LOCAL_ALLOWED_SUBJECTS,
    TLS_CRL_FILES: `${CONTAINER_TLS_DIR}/root-ca.crl,${CONTAINER_TLS_DIR}/intermediate-ca.crl,${CONTAINER_TLS_DIR}/second-ca.crl`,
    // Needs `MTLS_POLICY_FILE: ${MTLS_POLICY_FILE:-}` in docker-compose.yml's environment.
    MTLS_POLICY_FILE: `${CONTAINER_TLS_DIR}/policy.yaml`,
  };
}

/**
 * Runs `npm run escape` (the built CLI) inside the container's network namespace against its
 * loopback port, with the runtime probe executed in the container (`podman exec`).
 */
export function runEscapeInContainerNetns(o: {
  t: TargetPki;
  containerPid: number;
  container: string;
  outDir: string;
  port?: number;
  podmanEnv?: NodeJS.ProcessEnv;
}): Promise<{code: number | null; stdout: string; stderr: string; result?: SuiteResult}> {
  const cli = path.resolve(__dirname, '..', '..', '..', 'src', 'escape', 'cli.js');
  const s = o.t.scenarioDir;
  const args = [
    '-t',
    String(o.containerPid),
    '-n',
    '--',
    process.execPath,
    cli,
    '--target',
    `https://127.0.0.1:${o.port ?? 8443}`,
    '--servername',
    'localhost',
    '--ca',
    o.t.pki.caBundle,
    '--cert',
    path.join(s, 'valid.crt'),
    '--key',
    path.join(s, 'valid.key'),
    '--scenario-certs',
    s,
    '--spec',
    'target',
    '--quiet',
    '--out',
    o.outDir,
    '--runtime',
    `exec:podman exec ${o.container} /nodejs/bin/node /app/dist/src/escape/runtime-probe.js`,
  ];
  return new Promise((resolve, reject) => {
    const c = spawn('nsenter', args, {stdio: ['ignore', 'pipe', 'pipe'], env: o.podmanEnv ?? process.env});
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', code => {
      const file = path.join(o.outDir, REPORT_FILES.json);
      const result = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteResult) : undefined;
      resolve({code, stdout, stderr, result});
    });
  });
}
