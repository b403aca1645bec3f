/**
 * Variant (b): a plain LoopBack 4 RestApplication with the service's TLS options, HTTP limits and
 * REST settings, the same routes (GET /whoami from a per-connection identity cache, POST /echo),
 * and no authenticator, no guards, no security-header middleware, no audit log.
 *
 * With BENCH_UPSTREAM_HTTP=1 the same application is variant (d)'s upstream: plain HTTP on
 * loopback behind nginx, which terminates mutual TLS and passes the verified client's identity in
 * X-Client-* request headers (bench/lib/nginx.ts); /whoami answers from those headers.
 */
import '../../src/process-defaults';
import 'reflect-metadata';
import {inject} from '@loopback/core';
import {get, post, Request, requestBody, RestApplication, RestBindings, Response} from '@loopback/rest';
import type {Server as HttpsServer} from 'node:https';
import type {TLSSocket} from 'node:tls';
import {applyHttpLimits, baselineSetup, proxiedIdentity, whoamiIdentity} from './common';

const UPSTREAM_HTTP = process.env.BENCH_UPSTREAM_HTTP === '1';

class BenchController {
  constructor(
    @inject(RestBindings.Http.REQUEST) private readonly req: Request,
    @inject(RestBindings.Http.RESPONSE) private readonly res: Response,
  ) {}

  @get('/whoami', {responses: {'200': {description: 'identity', content: {'application/json': {schema: {type: 'object'}}}}}})
  whoami(): object {
    const identity = UPSTREAM_HTTP ? proxiedIdentity(this.req.headers) : whoamiIdentity(this.req.socket as TLSSocket);
    if (identity === undefined) {
      this.res.status(401);
      return {error: {code: 'AUTH_CERT_UNTRUSTED', message: 'client certificate refused'}};
    }
    return identity;
  }

  @post('/echo', {responses: {'200': {description: 'ok', content: {'application/json': {schema: {type: 'object'}}}}}})
  echo(
    @requestBody({required: true, content: {'application/json': {schema: {type: 'object', additionalProperties: true}}}})
    body: Record<string, unknown>,
  ): object {
    return {received: true, keys: Object.keys(body).sort()};
  }
}

async function main(): Promise<void> {
  const {config, tlsOptions} = await baselineSetup();
  const app = new RestApplication({
    shutdown: {signals: ['SIGTERM', 'SIGINT']},
    rest: {
      protocol: UPSTREAM_HTTP ? 'http' : 'https',
      host: config.host,
      port: config.port,
      ...(UPSTREAM_HTTP ? {} : tlsOptions),
      expressSettings: {'x-powered-by': false, 'trust proxy': false, etag: false},
      openApiSpec: {disabled: true},
      apiExplorer: {disabled: true},
      requestBodyParser: {json: {limit: config.http.maxBodyBytes, strict: true}},
    },
  });
  app.controller(BenchController);
  await app.start();
  applyHttpLimits(app.restServer.httpServer!.server as HttpsServer, config);
}

main().catch(e => {
  process.stderr.write(`plain-loopback: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
