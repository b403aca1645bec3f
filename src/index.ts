/**
 * Entry point: `node dist/src/index.js` (npm start).
 *   1. parse + validate + freeze config (bad value: coded exit 78 before listening)
 *   2. runtime posture self-check (POSTURE_MODE)
 *   3. dev PKI (development only, when no TLS files are configured)
 *   4. load + validate TLS material and CRLs (refuses expired/mismatched/weak/invalid)
 *   5. boot, audit the app's own OpenAPI spec (AUDIT_MODE), start, print URL + curl line
 *   6. SIGHUP: hot reload; SIGTERM/SIGINT: graceful shutdown, exit 0
 */
// First: defaults that dependencies read when they load.
import './process-defaults';
import 'reflect-metadata';
import path from 'node:path';
import {HardenedMtlsApplication} from './application';
import {AppConfig, Env, parseConfig} from './config/config';
import {AppError, toAppError} from './errors';
import type {OutboundDeps} from './outbound/outbound-client';
import {createLogger, Logger} from './logging/logger';
import {auditApplicationSpec} from './audit/openapi-audit';
import {auditAuthorization} from './authz/policy-audit';
import {PolicyStore} from './authz/policy-source';
import {checkPostureAtStartup, runPostureCheck} from './posture/posture-io';
import {formatBanner, formatPostureSummary} from './startup-screen';
import {requireRevocationCoverage, revocationCoverage} from './tls/revocation/revocation-coverage';
import {RevocationStore} from './tls/revocation/revocation-store';
import {loadTlsMaterial} from './tls/tls-material';

export {HardenedMtlsApplication} from './application';

export interface RunningService {
  app: HardenedMtlsApplication;
  config: AppConfig;
  url: string;
  stop(): Promise<void>;
}

function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel.startsWith('..') ? p : rel;
}

/** In-process hooks for embedding the service (the escape suite's local target); never set by main(). */
export interface ServiceOverrides {
  /** Stub resolver, connect shim and trust anchors for the SSRF-safe outbound client. */
  outbound?: OutboundDeps;
  /** Do not print the "listening on ... try: curl ..." banner (the embedding tool reports the URL itself). */
  quiet?: boolean;
  /**
   * stdout is a person's terminal (main() sets it from process.stdout.isTTY): in development the
   * posture result is printed as one readable summary instead of its JSON log line.
   */
  terminal?: boolean;
}

/** Start the service. Throws AppError on any start-up refusal. */
export async function startService(env: Env = process.env, logger?: Logger, overrides: ServiceOverrides = {}): Promise<RunningService> {
  const config = parseConfig(env);
  const log = logger ?? createLogger({level: config.logLevel});

  // Posture first: a privileged runtime must not even generate or read keys.
  const screen = config.printBanner && !overrides.quiet;
  if (screen && overrides.terminal && config.env === 'development' && config.postureMode === 'warn') {
    // A developer's terminal: the same check and decision, shown as one readable summary; the
    // posture JSON line (kilobytes listing every failed container check) is left out there.
    const report = runPostureCheck();
    checkPostureAtStartup('warn', log.child({component: 'posture'}, {level: 'error'}), {run: () => report});
    process.stdout.write(formatPostureSummary(report, {columns: process.stdout.columns}));
  } else {
    checkPostureAtStartup(config.postureMode, log.child({component: 'posture'}));
  }

  let devClient: {cert: string; key: string} | undefined;
  if (config.tls.devPki) {
    // Loaded only here: the production image does not ship the dev PKI generator (dist/src/pki).
    const {ensureDevPki} = await import('./pki/dev-pki');
    const {manifest, generated} = await ensureDevPki({dir: config.tls.devPkiDir, logger: log});
    devClient = {cert: manifest.clients.valid.cert, key: manifest.clients.valid.key};
    log.warn({devPkiDir: config.tls.devPkiDir, generated}, 'DEVELOPMENT PKI in use (no TLS_*_FILE configured): never use it in production');
  }

  const material = await loadTlsMaterial(config.tls);
  const revocation = await RevocationStore.load(config.tls.crlFiles, material.caCerts, log.child({component: 'revocation'}));
  // Say which revocation source covers each CA; production refuses an uncovered CA (issue 15).
  const coverage = revocationCoverage(material.caCerts, new Set(revocation.index.crls.map(r => r.issuerFingerprint256)), config.mtls);
  for (const c of coverage)
    log.info(
      {event: 'revocation.coverage', subject: c.subject, fingerprint256: c.fingerprint256, source: c.source},
      'revocation source of a trusted CA',
    );
  if (config.env === 'production') requireRevocationCoverage(coverage);

  // The role policy (MTLS_POLICY_FILE / MTLS_ROLES / built-in): an invalid one exits 78 here.
  const policy = await PolicyStore.load(config, log.child({component: 'authz'}));

  const app = new HardenedMtlsApplication({config, logger: log, material, revocation, policy, outboundDeps: overrides.outbound});
  await app.boot();
  // Audit the app's own spec (AUDIT_MODE=enforce refuses to start on a high finding).
  const spec = await app.restServer.getApiSpec();
  await auditApplicationSpec(spec, config.auditMode, log.child({component: 'openapi-audit'}));
  // Every operation has a policy, every role it names exists (src/authz/policy-audit.ts).
  auditAuthorization(app, spec, policy, config.auditMode, log.child({component: 'authz'}));
  try {
    await app.start();
  } catch (e) {
    throw new AppError('STARTUP_FAILED', 'the HTTPS server could not start', {reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message});
  }
  const url = app.restServer.url!.replace('://[::]', '://localhost').replace('://0.0.0.0', '://localhost');

  if (screen) {
    const cert = devClient ? displayPath(devClient.cert) : 'CLIENT.crt';
    const key = devClient ? displayPath(devClient.key) : 'CLIENT.key';
    // The server's dev certificate names localhost/127.0.0.1/::1; curl needs the CA bundle that signed it.
    const serverCa = config.tls.devPki ? displayPath(path.join(config.tls.devPkiDir, 'ca-bundle.crt')) : 'SERVER-CA.crt';
    process.stdout.write(formatBanner({url, serverCa, cert, key}));
  }
  log.info({event: 'listening', url, tls: 'TLSv1.3', ciphers: config.tls.ciphers, revocation: config.mtls.revocation}, 'listening');

  policy.startWatching();
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (policy.stop(), app.stop()));
  return {app, config, url, stop};
}

/** Process wrapper: signals, coded exits. Signal handlers exist before anything starts. */
export async function main(): Promise<void> {
  const bootLogger = createLogger({level: process.env.LOG_LEVEL ?? 'info'});
  let service: RunningService | undefined;
  let stopSignal: string | undefined;

  const shutdown = (signal: string) => {
    if (stopSignal) return;
    stopSignal = signal;
    if (!service) return; // still starting: stopped as soon as start-up completes
    const log = service.app.logger;
    log.info(
      {event: 'shutdown', signal, boundMs: service.config.http.shutdownTimeoutMs},
      'graceful shutdown: no new connections, finishing in-flight requests',
    );
    // Last resort: the server force-closes its connections at the bound; if anything still holds
    // the process a little after that, exit non-zero rather than hang until SIGKILL.
    setTimeout(() => {
      log.error(
        {event: 'shutdown.timeout', code: 'INTERNAL_ERROR', boundMs: service?.config.http.shutdownTimeoutMs},
        'graceful shutdown did not finish in time',
      );
      process.exit(1);
    }, service.config.http.shutdownTimeoutMs + 5000).unref();
    service.stop().then(
      () => {
        log.info({event: 'shutdown.complete'}, 'stopped');
        process.exit(0);
      },
      err => {
        log.error({err, code: 'INTERNAL_ERROR'}, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (!service) return;
    service.app.logger.info({event: 'tls.reload.requested', reason: 'SIGHUP'}, 'reload requested');
    void service.app.reloader?.reload('sighup');
    void service.app.policy.reload('sighup');
  });

  try {
    service = await startService(process.env, undefined, {terminal: process.stdout.isTTY === true});
  } catch (e) {
    const err = toAppError(e, 'STARTUP_FAILED');
    bootLogger.fatal({code: err.code, details: err.details, err: err.code === 'STARTUP_FAILED' ? e : undefined}, `refusing to start: ${err.message}`);
    process.exitCode = err.exitCode;
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT').removeAllListeners('SIGHUP');
    return;
  }
  if (stopSignal) {
    const pending = stopSignal;
    stopSignal = undefined;
    shutdown(pending);
  }
}

if (require.main === module) {
  void main();
}
