/**
 * routeStrategies() (src/auth/auth-strategy.provider.ts), the request path's lookup of
 * AuthenticationBindings.STRATEGY: it must answer exactly what `ctx.get(STRATEGY, {optional: true})`
 * answers, whether the bindings are the component's own (direct path, no context resolution) or
 * an application rebound them (resolved through the context). Real LoopBack contexts, no stubs.
 */
import assert from 'node:assert/strict';
import {BindingScope, Context, CoreBindings, extensionFilter} from '@loopback/core';
import {authenticate, AuthenticationBindings, AuthenticationStrategy, AUTHENTICATION_STRATEGY_NOT_FOUND} from '@loopback/authentication';
import {AuthenticationStrategyRegistry, authMetadataFactory, authStrategyFactory, routeStrategies} from '../../../src/auth/auth-strategy.provider';

class Controller {
  @authenticate('b', 'a')
  both() {}
  @authenticate.skip()
  open() {}
  @authenticate('missing')
  unknown() {}
  plain() {}
}

const names = (v: unknown) => (v === undefined ? undefined : (v as AuthenticationStrategy[]).map(s => s.name));

describe('auth: routeStrategies with real contexts (unit)', () => {
  function givenApp() {
    const app = new Context('app');
    const strategy = (name: string): AuthenticationStrategy => ({name, authenticate: async () => undefined});
    for (const n of ['a', 'b', 'mtls']) {
      app.bind(`strategies.${n}`).to(strategy(n)).tag({extensionFor: AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME});
    }
    app.configure(AuthenticationBindings.COMPONENT).to({defaultMetadata: [{strategy: 'mtls'}]});
    const registry = new AuthenticationStrategyRegistry(
      app.createView(extensionFilter(AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME)),
    );
    app.bind(AuthenticationBindings.METADATA).toDynamicValue(authMetadataFactory()).inScope(BindingScope.TRANSIENT);
    app.bind(AuthenticationBindings.STRATEGY).toDynamicValue(authStrategyFactory(registry)).inScope(BindingScope.TRANSIENT);
    return app;
  }
  function givenRequest(app: Context, method?: keyof Controller) {
    const req = new Context(app, 'request');
    if (method) {
      req.bind(CoreBindings.CONTROLLER_CLASS).to(Controller);
      req.bind(CoreBindings.CONTROLLER_METHOD_NAME).to(method);
    }
    return req;
  }

  const cases: [string, keyof Controller | undefined, string[] | undefined][] = [
    ['declared strategies, in order', 'both', ['b', 'a']],
    ['@authenticate.skip(): none', 'open', undefined],
    ['no declaration: the default', 'plain', ['mtls']],
    ['no controller (handler route, 404): the default', undefined, ['mtls']],
  ];
  for (const [name, method, expected] of cases) {
    it(`${name}, the same as ctx.get, twice (cache)`, async () => {
      const app = givenApp();
      for (let i = 0; i < 2; i++) {
        const viaDirect = names(await routeStrategies(givenRequest(app, method)));
        const viaContext = names(await givenRequest(app, method).get(AuthenticationBindings.STRATEGY, {optional: true}));
        assert.deepEqual(viaDirect, expected);
        assert.deepEqual(viaContext, expected);
      }
    });
  }

  it('an unknown strategy name fails with AUTHENTICATION_STRATEGY_NOT_FOUND on both paths', async () => {
    const app = givenApp();
    await assert.rejects(
      async () => routeStrategies(givenRequest(app, 'unknown')),
      (e: {code?: string}) => e.code === AUTHENTICATION_STRATEGY_NOT_FOUND,
    );
    await assert.rejects(
      async () => routeStrategies(givenRequest(app, 'unknown')),
      (e: {code?: string}) => e.code === AUTHENTICATION_STRATEGY_NOT_FOUND,
    );
  });

  it('obeys an application that rebinds METADATA (resolved through the context)', async () => {
    const app = givenApp();
    app.bind(AuthenticationBindings.METADATA).to([{strategy: 'a'}]);
    assert.deepEqual(names(await routeStrategies(givenRequest(app, 'both'))), ['a']);
  });

  it('obeys an application that rebinds STRATEGY, also on the request context', async () => {
    const app = givenApp();
    const req = givenRequest(app, 'both');
    const mine: AuthenticationStrategy = {name: 'mine', authenticate: async () => undefined};
    req.bind(AuthenticationBindings.STRATEGY).to(mine);
    assert.equal(await routeStrategies(req), mine);
    app.bind(AuthenticationBindings.STRATEGY).toDynamicValue(() => [mine]);
    assert.deepEqual(names(await routeStrategies(givenRequest(app, 'both'))), ['mine']);
  });

  it('sees a strategy bound after the first request', async () => {
    const app = givenApp();
    await routeStrategies(givenRequest(app, 'plain'));
    app
      .bind('strategies.mtls')
      .to({name: 'mtls', authenticate: async () => ({[Symbol.for('securityId')]: 'x'})})
      .tag({extensionFor: AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME});
    await new Promise(r => setImmediate(r));
    const [s] = (await routeStrategies(givenRequest(app, 'plain'))) as AuthenticationStrategy[];
    assert.notEqual(await s.authenticate({} as never), undefined, 'the rebound strategy answers');
  });
});
