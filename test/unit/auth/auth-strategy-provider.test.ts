/**
 * The pure part of the service's authentication metadata/strategy lookup
 * (src/auth/auth-strategy.provider.ts): which metadata a route gets, and how the registry answers
 * for known and unknown strategy names (a real LoopBack context view, no stubs of it).
 */
import assert from 'node:assert/strict';
import {Context, extensionFilter} from '@loopback/core';
import {
  AUTHENTICATION_STRATEGY_NOT_FOUND,
  AuthenticationBindings,
  AuthenticationMetadata,
  AuthenticationStrategy,
  registerAuthenticationStrategy,
} from '@loopback/authentication';
import {AuthenticationStrategyRegistry, routeAuthMetadata} from '../../../src/auth/auth-strategy.provider';

const MTLS: AuthenticationMetadata[] = [{strategy: 'mtls'}];

describe('auth: routeAuthMetadata (unit)', () => {
  const cases: [string, AuthenticationMetadata[] | undefined, AuthenticationMetadata[] | undefined, AuthenticationMetadata[] | undefined][] = [
    ['declared metadata wins over the default', [{strategy: 'other'}], MTLS, [{strategy: 'other'}]],
    ['no declared metadata: the default', undefined, MTLS, MTLS],
    ['@authenticate.skip(): none, even with a default', [{strategy: '', skip: true}], MTLS, undefined],
    ['neither declared nor default: none', undefined, undefined, undefined],
  ];
  for (const [name, declared, def, expected] of cases) {
    it(name, () => assert.deepEqual(routeAuthMetadata(declared, def), expected));
  }
});

describe('AuthenticationStrategyRegistry (unit, real context view)', () => {
  const strategy = (name: string): AuthenticationStrategy => ({name, authenticate: async () => undefined});

  function givenRegistry() {
    const ctx = new Context('app');
    const registry = new AuthenticationStrategyRegistry(
      ctx.createView<AuthenticationStrategy>(extensionFilter(AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME)),
    );
    return {ctx, registry};
  }

  it('answers the named strategies in metadata order', async () => {
    const {ctx, registry} = givenRegistry();
    ctx
      .bind('a')
      .to(strategy('a'))
      .apply(b => b.tag({extensionFor: AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME}));
    ctx
      .bind('b')
      .to(strategy('b'))
      .apply(b => b.tag({extensionFor: AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME}));
    assert.deepEqual(
      (await registry.find([{strategy: 'b'}, {strategy: 'a'}])).map(s => s.name),
      ['b', 'a'],
    );
  });

  it('an unknown name throws AUTHENTICATION_STRATEGY_NOT_FOUND', async () => {
    const {registry} = givenRegistry();
    await assert.rejects(registry.find([{strategy: 'nope'}]), (e: {code?: string}) => e.code === AUTHENTICATION_STRATEGY_NOT_FOUND);
  });

  it('sees a strategy registered after the first lookup (the view follows binding events)', async () => {
    const {ctx, registry} = givenRegistry();
    await assert.rejects(registry.find([{strategy: 'late'}]));
    class Late implements AuthenticationStrategy {
      name = 'late';
      async authenticate() {
        return undefined;
      }
    }
    registerAuthenticationStrategy(ctx, Late);
    assert.deepEqual(
      (await registry.find([{strategy: 'late'}])).map(s => s.name),
      ['late'],
    );
  });
});
