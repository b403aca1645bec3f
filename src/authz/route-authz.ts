/**
 * A route's `@authorize` metadata (@loopback/authorization), read once per controller method and
 * reduced to what the mTLS policy understands: the allowed roles.
 *
 * Supported: `@authorize({allowedRoles: [...]})` (method or class), `@authorize.allowAuthenticated()`
 * (role `$authenticated`: every identity the mtls strategy admitted). Everything else is refused,
 * not ignored: `@authorize.skip()`, `$everyone` / `$unauthenticated` / `$anonymous`, deniedRoles,
 * voters, scopes, resource (the start-up audit names them; at request time they are AUTHZ_NO_POLICY).
 */
import type {Constructor} from '@loopback/core';
import {AuthorizationMetadata, getAuthorizationMetadata} from '@loopback/authorization';
import {AUTHENTICATED_ROLE, ROLE_NAME} from '../identity/role-policy';

export interface RouteAuthz {
  /** `Controller.method`, or a description of the route kind. */
  readonly operation: string;
  /** The allowed roles; undefined = no usable policy (see `problem`). */
  readonly allowedRoles: readonly string[] | undefined;
  /** Why there is no usable policy. */
  readonly problem?: string;
}

/** The reduction of one metadata object (pure). */
export function routeAuthzOf(operation: string, md: AuthorizationMetadata | undefined): RouteAuthz {
  if (!md) return {operation, allowedRoles: undefined, problem: 'no @authorize metadata'};
  if (md.skip) return {operation, allowedRoles: undefined, problem: '@authorize.skip() is not allowed (use @authorize.allowAuthenticated())'};
  const extra = (['deniedRoles', 'voters', 'scopes', 'resource', 'deniedScopes'] as const).filter(k => {
    const v = (md as Record<string, unknown>)[k];
    return v !== undefined && !(Array.isArray(v) && v.length === 0);
  });
  if (extra.length > 0) return {operation, allowedRoles: undefined, problem: `unsupported @authorize field(s): ${extra.join(', ')}`};
  const roles = md.allowedRoles ?? [];
  if (roles.length === 0) return {operation, allowedRoles: undefined, problem: '@authorize without allowedRoles'};
  const bad = roles.filter(r => r !== AUTHENTICATED_ROLE && !ROLE_NAME.test(r));
  if (bad.length > 0) return {operation, allowedRoles: undefined, problem: `unsupported role name(s): ${bad.join(', ')}`};
  return {operation, allowedRoles: Object.freeze([...roles])};
}

/** A route without a controller: handler route, mounted router, static assets, redirect, unknown path. */
export const NO_CONTROLLER: RouteAuthz = Object.freeze({
  operation: '(no controller)',
  allowedRoles: undefined,
  problem: 'a route without a controller has no @authorize metadata',
});

const byClass = new WeakMap<Constructor<unknown>, Map<string, RouteAuthz>>();

/** Cached per controller class and method (decorators are static). */
export function routeAuthz(controllerClass: Constructor<unknown> | undefined, methodName: string | undefined): RouteAuthz {
  if (!controllerClass || !methodName) return NO_CONTROLLER;
  let methods = byClass.get(controllerClass);
  if (!methods) byClass.set(controllerClass, (methods = new Map()));
  let hit = methods.get(methodName);
  if (!hit) {
    hit = routeAuthzOf(`${controllerClass.name}.${methodName}`, getAuthorizationMetadata(controllerClass, methodName));
    methods.set(methodName, hit);
  }
  return hit;
}
