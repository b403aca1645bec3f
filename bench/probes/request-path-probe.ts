/**
 * `node dist/bench/probes/request-path-probe.js`: CPU time (process.cpuUsage, so other processes
 * on a busy machine do not count) of the per-request LoopBack steps that issue 19's changes
 * replaced, old way against new way, on real LoopBack contexts and bindings. Pin it to a CPU
 * (`taskset -c 0`) for stable numbers. Prints µs per operation, median of 7 runs.
 */
import 'reflect-metadata';
import {BindingScope, Context, CoreBindings, extensionFilter, InvocationContext} from '@loopback/core';
import {authenticate, AuthenticationBindings, AuthenticationStrategy} from '@loopback/authentication';
import {invokeMiddleware, Middleware, MiddlewareContext, RestApplication, RestBindings} from '@loopback/rest';
import {Socket} from 'node:net';
import {IncomingMessage, IncomingMessage as Req, ServerResponse, ServerResponse as Res} from 'node:http';
import {AuthenticationStrategyRegistry, authMetadataFactory, authStrategyFactory, routeStrategies} from '../../src/auth/auth-strategy.provider';
import {createHttpLimitsMiddleware} from '../../src/middleware/http-limits.middleware';
import {createRequestEntryMiddleware} from '../../src/middleware/request-entry.middleware';
import {createSecurityHeadersMiddleware} from '../../src/middleware/security-headers.middleware';

async function cpuUsPerOp(op: () => unknown, n: number): Promise<number> {
  for (let i = 0; i < n; i++) await op();
  const runs: number[] = [];
  for (let k = 0; k < 7; k++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await op();
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / n);
  }
  runs.sort((a, b) => a - b);
  return runs[3];
}

class Controller {
  @authenticate('mtls')
  whoami() {}
}

function givenRequest(): {req: IncomingMessage; res: ServerResponse} {
  const req = new Req(new Socket());
  req.httpVersion = '1.1';
  req.headers = {host: 'x'};
  req.rawHeaders = ['Host', 'x'];
  const res = new Res(req);
  return {req, res};
}

async function main(): Promise<void> {
  const out: Record<string, number> = {};
  const n = 20_000;

  // 1. the request body parser: LoopBack's transient binding vs the application's singleton
  {
    const app = new RestApplication({rest: {port: 0}});
    const server = app.restServer;
    const viaTransient = () => new Context(server, 'request').get(RestBindings.REQUEST_BODY_PARSER);
    out['REQUEST_BODY_PARSER resolution, transient (LoopBack default)'] = await cpuUsPerOp(viaTransient, n);
    app.getBinding(RestBindings.REQUEST_BODY_PARSER).inScope(BindingScope.SINGLETON);
    out['REQUEST_BODY_PARSER resolution, singleton (this service)'] = await cpuUsPerOp(viaTransient, n);
  }

  // 2. the route's authentication strategies: ctx.get(STRATEGY) vs routeStrategies()
  {
    const app = new Context('app');
    const strategy: AuthenticationStrategy = {name: 'mtls', authenticate: async () => undefined};
    app.bind('strategies.mtls').to(strategy).tag({extensionFor: AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME});
    const registry = new AuthenticationStrategyRegistry(
      app.createView(extensionFilter(AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME)),
    );
    app.bind(AuthenticationBindings.METADATA).toDynamicValue(authMetadataFactory()).inScope(BindingScope.TRANSIENT);
    app.bind(AuthenticationBindings.STRATEGY).toDynamicValue(authStrategyFactory(registry)).inScope(BindingScope.TRANSIENT);
    const req = () => {
      const ctx = new Context(app, 'request');
      ctx.bind(CoreBindings.CONTROLLER_CLASS).to(Controller);
      ctx.bind(CoreBindings.CONTROLLER_METHOD_NAME).to('whoami');
      return ctx;
    };
    const ctxs = Array.from({length: 64}, req);
    let i = 0;
    out['strategy lookup, ctx.get(STRATEGY) (before)'] = await cpuUsPerOp(
      () => ctxs[i++ & 63].get(AuthenticationBindings.STRATEGY, {optional: true}),
      n,
    );
    out['strategy lookup, routeStrategies() (after)'] = await cpuUsPerOp(() => routeStrategies(ctxs[i++ & 63]), n);
  }

  // 3. headers + limits: two middleware bindings vs one, through LoopBack's middleware chain
  {
    const shutting = {value: false};
    const limits = {maxHeadersCount: 100};
    const run = async (mws: Middleware[]) => {
      const parent = new Context('app');
      const keys = mws.map((m, k) => {
        parent.bind(`middleware.m${k}`).to(m);
        return `middleware.m${k}`;
      });
      const pool = Array.from({length: 64}, givenRequest);
      let i = 0;
      return cpuUsPerOp(() => {
        const {req, res} = pool[i++ & 63];
        const ctx = new MiddlewareContext(req as never, res as never, parent);
        return invokeMiddleware(ctx, {middlewareList: keys, next: () => undefined as never});
      }, n);
    };
    out['headers + limits, two middleware (before)'] = await run([createSecurityHeadersMiddleware(shutting), createHttpLimitsMiddleware(limits)]);
    out['headers + limits, one middleware (after)'] = await run([createRequestEntryMiddleware(shutting, limits)]);
  }

  // 4. the URL-parameter interceptor's route: a context lookup vs the invocation's source
  {
    const reqCtx = new Context('request');
    const route = {verb: 'get', path: '/whoami', spec: {}};
    reqCtx.bind(RestBindings.Operation.ROUTE).to(route as never);
    const inv = new InvocationContext(reqCtx, new Controller(), 'whoami', [], {type: 'route', value: route});
    out['interceptor route, ctx.getSync(ROUTE) (before)'] = await cpuUsPerOp(() => inv.getSync(RestBindings.Operation.ROUTE, {optional: true}), n);
    out['interceptor route, invocation source (after)'] = await cpuUsPerOp(() => {
      const source = inv.source as {type?: string; value?: unknown} | undefined;
      return source?.type === 'route' ? source.value : undefined;
    }, n);
  }

  for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(64)} ${v.toFixed(2)} µs\n`);
  process.stdout.write(`PROBE_RESULT ${JSON.stringify(out)}\n`);
}

main().catch(e => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
