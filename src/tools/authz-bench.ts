/**
 * Micro-benchmark of the authorizer's per-request CPU cost (target: at most ~10 µs per request):
 * `node dist/src/tools/authz-bench.js [iterations]`.
 *
 * Runs the real authorization middleware (createAuthorizationMiddleware) over a real compiled
 * policy and the real `@authorize` metadata of FetchController.fetch, with a request context that
 * answers the same bindings LoopBack's would (user profile, controller class, method name), and a
 * pino logger writing every authz.decision line to a discarding stream (the line is serialised).
 * Prints CPU µs per request: allow and deny, and the decision alone (no audit line). The
 * end-to-end ratio under load is `npm run bench` (bench/), which runs the whole service.
 */
import 'reflect-metadata';
import {Writable} from 'node:stream';
import {CoreBindings} from '@loopback/core';
import type {MiddlewareContext} from '@loopback/rest';
import {SecurityBindings, securityId} from '@loopback/security';
import {createAuthorizationMiddleware, DecisionCache} from '../authz/authorization.middleware';
import {PolicyStore} from '../authz/policy-source';
import {routeAuthz} from '../authz/route-authz';
import {parseConfig} from '../config/config';
import {FetchController} from '../controllers/fetch.controller';
import {createLogger} from '../logging/logger';

function profile(name: string): object {
  return {
    [securityId]: `FP-${name}`,
    subject: `CN=${name},O=Hardened mTLS Dev`,
    issuer: 'CN=Hardened mTLS Dev Intermediate CA,O=Hardened mTLS Dev',
    serial: '6327D831256AFE1B394C55AA93BF2D51',
    fingerprint256: `A5:C3:04:8E:88:DD:9A:E5:73:3D:EF:2C:D0:DA:AF:14:F8:8D:1E:CB:7B:FF:BC:DE:E9:79:4F:91:81:2D:${name === 'valid' ? 'DA' : 'DB'}:84`,
    sans: {dns: [`${name}.client.hardened-mtls.test`], uri: [`spiffe://hardened-mtls.test/client/${name}`], email: [], ip: []},
    commonNames: [name],
    caFingerprints256: ['11:22', '33:44'],
  };
}

function context(user: object): MiddlewareContext {
  const values = new Map<string, unknown>([
    [SecurityBindings.USER.key, user],
    [CoreBindings.CONTROLLER_CLASS.key, FetchController],
    [CoreBindings.CONTROLLER_METHOD_NAME.key, 'fetch'],
  ]);
  return {
    getSync: (key: {key?: string} | string) => values.get(typeof key === 'string' ? key : String(key.key ?? key)),
    request: {method: 'POST', headers: {}},
    response: {setHeader: () => undefined},
  } as unknown as MiddlewareContext;
}

async function measure(label: string, n: number, fn: () => Promise<unknown> | unknown): Promise<void> {
  for (let i = 0; i < Math.min(n, 20_000); i++) await fn(); // warm-up
  const t0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const cpu = process.cpuUsage(t0);
  const wall = Number(process.hrtime.bigint() - w0) / 1e3;
  const cpuUs = (cpu.user + cpu.system) / n;
  process.stdout.write(`${label.padEnd(48)} ${cpuUs.toFixed(2).padStart(7)} µs CPU/request  (${(wall / n).toFixed(2)} µs wall)\n`);
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200_000);
  const config = parseConfig({NODE_ENV: 'development'});
  const sink = new Writable({write: (_c, _e, cb) => cb()});
  const logger = createLogger({level: 'info', destination: sink});
  const store = PolicyStore.withoutFile(config, logger);
  const mw = createAuthorizationMiddleware({store, logger, enforceDefaultDeny: true, corsAllowedOrigins: []});
  const allowCtx = context(profile('valid'));
  const denyCtx = context(profile('valid2'));
  const next = async () => undefined;
  await measure('middleware, allow (operator), with audit line', n, () => mw(allowCtx, next));
  await measure('middleware, deny (AUTHZ_DENIED), with audit line', n, () => Promise.resolve(mw(denyCtx, next)).catch(() => undefined));
  const cache = new DecisionCache();
  const route = routeAuthz(FetchController, 'fetch');
  const user = profile('valid');
  await measure('decision only (cached path, no audit line)', n, () => cache.decide(store.current, user as never, route));
}

void main();
