/**
 * Start-up self-audit of authorization: every operation of the app's own OpenAPI spec must carry
 * usable `@authorize` metadata, and every role named by a decorator must exist in the policy.
 *
 *   - an operation without policy (no @authorize, @authorize.skip(), unsupported fields, a
 *     handler route) is a high finding: AUDIT_MODE=enforce (the production default) refuses to
 *     start with OPENAPI_AUDIT_FAILED, warn logs it, off skips the finding;
 *   - a role the policy does not define is a policy error: AUTHZ_POLICY_INVALID (exit 78) in
 *     every mode, since no identity could ever hold it.
 * One `authz.audit` line either way. Called by src/index.ts next to auditApplicationSpec.
 */
import {Application, Constructor, CoreTags} from '@loopback/core';
import type {EnforceMode} from '../config/config';
import {AppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import type {PolicyStore} from './policy-source';
import {NO_CONTROLLER, routeAuthz, RouteAuthz} from './route-authz';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface AuthzAuditFinding {
  severity: 'high';
  ruleId: 'authz-no-policy';
  method: string;
  path: string;
  operation: string;
  problem: string;
}

export interface AuthzAuditReport {
  operations: number;
  findings: AuthzAuditFinding[];
  roles: string[];
}

type Spec = {paths?: Record<string, Record<string, {'x-controller-name'?: string; 'x-operation-name'?: string} | undefined>>};

/** Pure: the route metadata of every operation of the spec (controllers by class name). */
export function auditOperations(spec: Spec, controllers: ReadonlyMap<string, Constructor<unknown>>): AuthzAuditReport {
  const findings: AuthzAuditFinding[] = [];
  const roles = new Set<string>();
  let operations = 0;
  for (const [p, item] of Object.entries(spec.paths ?? {})) {
    for (const m of METHODS) {
      const op = item?.[m];
      if (!op) continue;
      operations++;
      const ctor = op['x-controller-name'] ? controllers.get(op['x-controller-name']) : undefined;
      const r: RouteAuthz = ctor ? routeAuthz(ctor, op['x-operation-name']) : NO_CONTROLLER;
      if (r.allowedRoles) for (const role of r.allowedRoles) roles.add(role);
      else
        findings.push({
          severity: 'high',
          ruleId: 'authz-no-policy',
          method: m.toUpperCase(),
          path: p,
          operation: r.operation,
          problem: r.problem ?? 'no policy',
        });
    }
  }
  return {operations, findings, roles: [...roles].sort()};
}

/** The app's controller classes by name. */
export function controllerClasses(app: Application): Map<string, Constructor<unknown>> {
  const out = new Map<string, Constructor<unknown>>();
  for (const b of app.findByTag(CoreTags.CONTROLLER)) {
    const ctor = b.valueConstructor;
    if (ctor) out.set(ctor.name, ctor);
  }
  return out;
}

export function auditAuthorization(app: Application, spec: object, store: PolicyStore, mode: EnforceMode, logger: Logger): AuthzAuditReport {
  const report = auditOperations(spec as Spec, controllerClasses(app));
  // Unknown roles: always fatal (AUTHZ_POLICY_INVALID); later reloads must keep these roles.
  store.requireRoles(report.roles);
  const high = mode === 'off' ? [] : report.findings;
  audit(logger, {
    event: 'authz.audit',
    decision: high.length === 0 ? 'allow' : mode === 'enforce' ? 'deny' : 'warn',
    ...(high.length > 0 ? {code: 'OPENAPI_AUDIT_FAILED'} : {}),
    mode,
    operations: report.operations,
    roles: report.roles,
    policy: store.current.source,
    high: high.map(f => `${f.ruleId} ${f.method} ${f.path} ${f.operation}: ${f.problem}`),
  });
  if (high.length > 0 && mode === 'enforce') {
    throw new AppError('OPENAPI_AUDIT_FAILED', `${high.length} operation(s) have no authorization policy`, {findings: high});
  }
  return report;
}
