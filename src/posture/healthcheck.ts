/**
 * Container HEALTHCHECK over mutual TLS. The runtime image is distroless (no shell, no curl),
 * so the image runs this with its own node binary:
 *   HEALTHCHECK CMD ["/nodejs/bin/node", "/app/dist/src/posture/healthcheck.js"]
 *
 * It connects to https://127.0.0.1:$PORT$HEALTHCHECK_PATH with TLS 1.3 only, verifies the
 * server against the CA bundle and presents the mounted health-client certificate (whose
 * identity must be allowed by MTLS_ALLOWED_SUBJECTS). Exit 0 on HTTP 200, 1 otherwise.
 *
 * Variables (all optional):
 *   HEALTHCHECK_CERT_FILE  default /etc/hardened-mtls/health/client.crt
 *   HEALTHCHECK_KEY_FILE   default /etc/hardened-mtls/health/client.key
 *   HEALTHCHECK_CA_FILE    default $TLS_CA_FILE
 *   HEALTHCHECK_HOST       default 127.0.0.1
 *   HEALTHCHECK_SERVERNAME default localhost (must match a DNS SAN of the server certificate)
 *   HEALTHCHECK_PATH       default /ping
 *   HEALTHCHECK_TIMEOUT_MS default 4000
 *   PORT                   default 8443
 */
import fs from 'node:fs';
import https from 'node:https';

export interface HealthcheckOptions {
  host: string;
  port: number;
  path: string;
  servername: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  timeoutMs: number;
}

export function healthcheckOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): HealthcheckOptions {
  const caFile = env.HEALTHCHECK_CA_FILE ?? env.TLS_CA_FILE;
  if (!caFile) throw new Error('HEALTHCHECK_CA_FILE or TLS_CA_FILE is required');
  const port = Number(env.PORT ?? '8443');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('PORT is not a port');
  const timeoutMs = Number(env.HEALTHCHECK_TIMEOUT_MS ?? '4000');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new Error('HEALTHCHECK_TIMEOUT_MS is invalid');
  const p = env.HEALTHCHECK_PATH ?? '/ping';
  if (!p.startsWith('/')) throw new Error('HEALTHCHECK_PATH must start with /');
  return {
    host: env.HEALTHCHECK_HOST ?? '127.0.0.1',
    port,
    path: p,
    servername: env.HEALTHCHECK_SERVERNAME ?? 'localhost',
    cert: fs.readFileSync(env.HEALTHCHECK_CERT_FILE ?? '/etc/hardened-mtls/health/client.crt'),
    key: fs.readFileSync(env.HEALTHCHECK_KEY_FILE ?? '/etc/hardened-mtls/health/client.key'),
    ca: fs.readFileSync(caFile),
    timeoutMs,
  };
}

/** Resolves with the HTTP status code; rejects on any TLS/connection error or timeout. */
export function healthcheck(o: HealthcheckOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: o.host,
        port: o.port,
        path: o.path,
        method: 'GET',
        servername: o.servername,
        cert: o.cert,
        key: o.key,
        ca: o.ca,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        agent: false,
        timeout: o.timeoutMs,
      },
      res => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('healthcheck timed out')));
    req.on('error', reject);
    req.end();
  });
}

if (require.main === module) {
  let opts: HealthcheckOptions;
  try {
    opts = healthcheckOptionsFromEnv(process.env);
  } catch (e) {
    process.stderr.write(`healthcheck: ${(e as Error).message}\n`);
    process.exit(1);
  }
  healthcheck(opts).then(
    status => {
      process.stdout.write(`healthcheck: HTTP ${status}\n`);
      process.exitCode = status === 200 ? 0 : 1;
    },
    (e: Error) => {
      process.stderr.write(`healthcheck: ${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
