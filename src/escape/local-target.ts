/**
 * The local target: what `npm run escape` attacks when no --target is given.
 *   1. a throw-away PKI in a private temp dir (the dev PKI generator) plus the scenario
 *      certificates the dev PKI does not have;
 *   2. the escape harness (canaries, stub DNS, connect shim, fake public upstream);
 *   3. the service itself, in this process, in production mode, with its outbound client wired
 *      to the harness (stub resolver, connect shim, the fake upstream's CA).
 * close() stops the service and the harness and removes the temp dir.
 */
import {X509Certificate} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {Env} from '../config/config';
import {startService, RunningService} from '../index';
import {createLogger} from '../logging/logger';
import {DevPkiManifest, generateDevPki, loadDevCa} from '../pki/dev-pki';
import type {DnsAnswers} from './catalog';
import type {Endpoint} from './client';
import {EscapeHarness, startEscapeHarness} from './harness';
import {copyDevPkiScenarios, generateAuthzScenarioCerts, generateScenarioCerts} from './scenario-certs';

/** The allow-list of the local instance: the dev PKI's SPIFFE clients and one DNS name. */
export const LOCAL_ALLOWED_SUBJECTS = 'uri:spiffe://hardened-mtls.test/client/*,dns:client.allowed.test';
/**
 * The local instance lets the outbound client reach plain HTTP and every canary port, so the
 * suite proves that the address, host and scheme policies hold on their own (a deployment with the
 * default port list [443] refuses even more).
 */
export const LOCAL_OUTBOUND_PORTS = '80,443,2375,2376,2379,6443,8001,8080,10250,10255';

export interface LocalTarget {
  endpoint: Endpoint;
  url: string;
  /** Directory of the scenario certificates (valid, expired, ...). */
  scenarioDir: string;
  harness: EscapeHarness;
  service: RunningService;
  /** The service's log (JSON lines), kept until close() unless keepLog. */
  logFile: string;
  close(): Promise<void>;
}

/**
 * The role policy of an escape target (MTLS_POLICY_FILE): the operator role (POST /fetch, the
 * OpenAPI document) is the dev PKI's `valid` client, bound to the dev intermediate CA by SHA-256
 * fingerprint, so `second-ca-operator` (same SAN, second CA in the bundle) is refused
 * AUTHZ_ISSUER_MISMATCH and `valid2` is refused AUTHZ_DENIED.
 */
export function targetPolicyYaml(pki: DevPkiManifest): string {
  const fp = new X509Certificate(fs.readFileSync(pki.intermediateCa.cert)).fingerprint256;
  const role = (what: string) => [
    `    description: ${what}`,
    `    rules: ['uri:spiffe://hardened-mtls.test/client/valid']`,
    `    issuers: ['sha256:${fp}']`,
  ];
  return [
    'version: 1',
    'roles:',
    '  operator:',
    ...role('POST /fetch and the OpenAPI document'),
    '  spec-reader:',
    ...role('GET /openapi.json'),
    '',
  ].join('\n');
}

/**
 * Authz additions to a target PKI: the second CA (bundle = dev bundle + second CA, its CRL), the
 * `second-ca-operator` scenario and the policy file. Returns the extra service environment.
 */
export async function writeAuthzDeployment(
  dir: string,
  pki: DevPkiManifest,
  scenarioDir: string,
): Promise<{bundle: string; crl: string; policy: string}> {
  const extra = await generateAuthzScenarioCerts({dir: scenarioDir});
  const bundle = path.join(dir, 'ca-bundle-with-second-ca.crt');
  fs.writeFileSync(bundle, fs.readFileSync(pki.caBundle, 'utf8') + fs.readFileSync(extra.secondCaCert, 'utf8'), {mode: 0o644});
  const policy = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policy, targetPolicyYaml(pki), {mode: 0o644});
  return {bundle, crl: extra.secondCaCrl, policy};
}

export interface TargetPki {
  pki: DevPkiManifest;
  /** Every scenario certificate (dev PKI clients + the generated ones). */
  scenarioDir: string;
  /** Authz files: client CA bundle with the second CA, the second CA's CRL, the role policy. */
  authz: {bundle: string; crl: string; policy: string};
  /**
   * The TLS/mTLS environment for a service that uses this PKI (file paths as given by `at`, e.g.
   * the paths where a container sees the PKI directory mounted).
   */
  serviceEnv(at?: (hostPath: string) => string): Record<string, string>;
}

/**
 * A throw-away PKI for an escape target: the dev PKI generator's CAs, server certificate, CRLs and
 * client scenarios, plus the scenarios it does not have. Also what a container tier needs to start
 * the image it attacks (mount `dir`, pass serviceEnv(), give the CLI `--scenario-certs`).
 */
export async function generateTargetPki(dir: string): Promise<TargetPki> {
  const pki = await generateDevPki({dir: path.join(dir, 'pki')});
  const scenarioDir = path.join(dir, 'scenarios');
  copyDevPkiScenarios(pki, scenarioDir);
  await generateScenarioCerts({dir: scenarioDir, issuer: await loadDevCa(pki, 'intermediate'), root: await loadDevCa(pki, 'root')});
  const authz = await writeAuthzDeployment(path.join(dir, 'pki'), pki, scenarioDir);
  return {
    pki,
    scenarioDir,
    authz,
    serviceEnv: (at = p => p) => ({
      TLS_CERT_FILE: at(pki.server.cert),
      TLS_KEY_FILE: at(pki.server.key),
      TLS_CA_FILE: at(authz.bundle),
      TLS_CRL_FILES: `${at(pki.crls.root)},${at(pki.crls.intermediate)},${at(authz.crl)}`,
      MTLS_ALLOWED_SUBJECTS: LOCAL_ALLOWED_SUBJECTS,
      MTLS_POLICY_FILE: at(authz.policy),
    }),
  };
}

export interface LocalTargetOptions {
  dns: DnsAnswers;
  /** Where to write the service log (default: inside the temp dir). */
  logFile?: string;
}

export async function startLocalTarget(opts: LocalTargetOptions): Promise<LocalTarget> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'escape-local-'));
  fs.chmodSync(dir, 0o700);
  let harness: EscapeHarness | undefined;
  let service: RunningService | undefined;
  let logStream: fs.WriteStream | undefined;
  const close = async () => {
    await service?.stop();
    await harness?.close();
    if (logStream) await new Promise<void>(r => logStream!.end(() => r()));
    fs.rmSync(dir, {recursive: true, force: true});
  };
  try {
    const {pki, scenarioDir, serviceEnv} = await generateTargetPki(dir);
    harness = await startEscapeHarness({dns: opts.dns, dir: path.join(dir, 'harness')});
    const logFile = opts.logFile ?? path.join(dir, 'service.log');
    logStream = fs.createWriteStream(logFile, {flags: 'a', mode: 0o600});
    const logger = createLogger({level: 'info', destination: logStream});
    const env: Env = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      ...serviceEnv(),
      TLS_WATCH: 'false',
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOWED_PORTS: LOCAL_OUTBOUND_PORTS,
      OUTBOUND_TIMEOUT_MS: '3000',
      // The runtime cases judge the posture themselves (and report it); start-up must not refuse.
      POSTURE_MODE: 'off',
      // the benign cases' targets (/search, /echo, /products/...): not booted in production otherwise
      DEMO_ROUTES: 'true',
    };
    service = await startService(env, logger, {outbound: harness.outbound, quiet: true});
    const port = Number(new URL(service.url).port);
    return {
      endpoint: {host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(pki.caBundle)},
      url: `https://127.0.0.1:${port}`,
      scenarioDir,
      harness,
      service,
      logFile,
      close,
    };
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
}
