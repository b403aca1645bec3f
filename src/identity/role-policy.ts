/**
 * The authorization policy as pure data: which identities hold which role, and which CA may vouch
 * for them. Validated strictly (unknown keys refused), compiled once into a matcher, evaluated per
 * request by src/authz/authorization.middleware.ts (and by the Authorizer of src/authz/mtls.authorizer.ts).
 *
 * Document (MTLS_POLICY_FILE, YAML or JSON):
 *   version: 1
 *   roles:
 *     operator:
 *       rules: ['uri:spiffe://prod.example/ops/*', {match: 'dns:ops.example.com', issuers: ['sha256:AB12…']}]
 *       issuers: ['sha256:…']            # optional: CAs allowed to vouch for every rule of the role
 *   trustDomains:                        # optional: a SPIFFE trust domain bound to one bundle file
 *     prod.example: {bundle: prod-bundle.pem}
 * Rules use the grammar of identity-rules.ts (cn:, dns:, uri:, email:, ip:), one rule per entry.
 * An issuer is `sha256:` + the SHA-256 fingerprint of a CA certificate (hex, colons optional); it is
 * satisfied when that CA is on the verified path of the client certificate (issuer ... anchor).
 * A uri:spiffe:// rule whose trust domain is listed under trustDomains is bound to the CAs of that
 * bundle unless the rule or role names issuers itself.
 *
 * Env form (MTLS_ROLES, small deployments): `role=rule,rule;role2=rule` (no issuers).
 *
 * Pure module: no LoopBack imports, no I/O (bundle files are read by src/authz/policy-source.ts
 * and handed in as fingerprints).
 */
import {CertificateIdentity, IdentityRule, IdentityRuleError, matchIdentity, parseIdentityRules} from './identity-rules';

/** Role every admitted identity holds (LoopBack's `AUTHENTICATED`, what `@authorize.allowAuthenticated()` sets). */
export const AUTHENTICATED_ROLE = '$authenticated';

export interface RuleDocument {
  match: string;
  issuers?: string[];
}
export interface RoleDocument {
  rules: (string | RuleDocument)[];
  issuers?: string[];
  description?: string;
}
export interface PolicyDocument {
  version: 1;
  roles: Record<string, RoleDocument>;
  trustDomains?: Record<string, {bundle: string}>;
}

export class PolicyError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

export const ROLE_NAME = /^[a-z][a-z0-9._-]{0,62}$/;
const MAX_ROLES = 256;
const MAX_RULES = 1024;
const MAX_ISSUERS = 64;
const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const ISSUER = /^sha256:((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$/i;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)
  );
}

function onlyKeys(o: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new PolicyError(where, `unknown key "${safe(k)}" (allowed: ${allowed.join(', ')})`);
}

/** Keys and values in error messages: printable ASCII, bounded. */
function safe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}

/** `sha256:AB:CD…` or `sha256:abcd…` -> `ABCD…` (upper-case hex, no colons). */
export function normalizeFingerprint(text: string): string | undefined {
  const m = ISSUER.exec(text);
  if (!m || (m[1].includes(':') && !/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/i.test(m[1]))) return undefined;
  return m[1].replace(/:/g, '').toUpperCase();
}

function issuersOf(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ISSUERS) throw new PolicyError(where, `must be a list of 1..${MAX_ISSUERS} issuers`);
  return v.map((x, i) => {
    const fp = typeof x === 'string' ? normalizeFingerprint(x.trim()) : undefined;
    if (!fp) throw new PolicyError(`${where}[${i}]`, 'must be "sha256:" and the 64-hex-digit SHA-256 fingerprint of a CA certificate');
    return fp;
  });
}

function ruleOf(text: unknown, where: string): IdentityRule {
  if (typeof text !== 'string' || text.trim() === '') throw new PolicyError(where, 'empty rule');
  if (text.includes(',')) throw new PolicyError(where, 'one rule per entry (no commas)');
  let parsed: IdentityRule[];
  try {
    parsed = parseIdentityRules(text);
  } catch (e) {
    if (e instanceof IdentityRuleError) throw new PolicyError(where, e.message);
    throw e;
  }
  if (parsed.length !== 1) throw new PolicyError(where, 'empty rule');
  return parsed[0];
}

/** Validate a parsed document (from YAML, JSON or the env form). Throws PolicyError naming the place. */
export function validatePolicyDocument(raw: unknown): PolicyDocument {
  if (!isPlainObject(raw)) throw new PolicyError('policy', 'must be a mapping');
  onlyKeys(raw, 'policy', ['version', 'roles', 'trustDomains']);
  if (raw.version !== 1) throw new PolicyError('version', 'must be 1');
  if (!isPlainObject(raw.roles)) throw new PolicyError('roles', 'must be a mapping of role name to {rules}');
  const names = Object.keys(raw.roles);
  if (names.length > MAX_ROLES) throw new PolicyError('roles', `more than ${MAX_ROLES} roles`);
  const roles: Record<string, RoleDocument> = {};
  for (const name of names) {
    const where = `roles.${safe(name)}`;
    if (!ROLE_NAME.test(name)) throw new PolicyError(where, 'role names are lower-case letters, digits, ".", "_", "-" and start with a letter');
    const role = raw.roles[name];
    if (!isPlainObject(role)) throw new PolicyError(where, 'must be a mapping with "rules"');
    onlyKeys(role, where, ['rules', 'issuers', 'description']);
    if (!Array.isArray(role.rules)) throw new PolicyError(`${where}.rules`, 'must be a list (an empty list: nobody holds the role)');
    if (role.rules.length > MAX_RULES) throw new PolicyError(`${where}.rules`, `more than ${MAX_RULES} rules`);
    if (role.description !== undefined && (typeof role.description !== 'string' || role.description.length > 500)) {
      throw new PolicyError(`${where}.description`, 'must be a string of at most 500 characters');
    }
    const rules = role.rules.map((r, i): string | RuleDocument => {
      const rw = `${where}.rules[${i}]`;
      if (typeof r === 'string') {
        ruleOf(r, rw);
        return r.trim();
      }
      if (!isPlainObject(r)) throw new PolicyError(rw, 'must be a rule string or {match, issuers}');
      onlyKeys(r, rw, ['match', 'issuers']);
      ruleOf(r.match, `${rw}.match`);
      const issuers = issuersOf(r.issuers, `${rw}.issuers`);
      return {match: (r.match as string).trim(), ...(issuers ? {issuers} : {})};
    });
    const issuers = issuersOf(role.issuers, `${where}.issuers`);
    roles[name] = {rules, ...(issuers ? {issuers} : {}), ...(role.description !== undefined ? {description: role.description as string} : {})};
  }
  const doc: PolicyDocument = {version: 1, roles};
  if (raw.trustDomains !== undefined) {
    if (!isPlainObject(raw.trustDomains)) throw new PolicyError('trustDomains', 'must be a mapping of trust domain to {bundle}');
    const tds: Record<string, {bundle: string}> = {};
    for (const [td, v] of Object.entries(raw.trustDomains)) {
      const where = `trustDomains.${safe(td)}`;
      if (!TRUST_DOMAIN.test(td)) throw new PolicyError(where, 'not a lower-case SPIFFE trust domain name');
      if (!isPlainObject(v)) throw new PolicyError(where, 'must be {bundle: FILE}');
      onlyKeys(v, where, ['bundle']);
      if (typeof v.bundle !== 'string' || v.bundle.trim() === '' || v.bundle.length > 4096)
        throw new PolicyError(`${where}.bundle`, 'must be a file path');
      tds[td] = {bundle: v.bundle.trim()};
    }
    doc.trustDomains = tds;
  }
  return doc;
}

/** The env form `role=rule,rule;role2=rule` as a document (validated). */
export function parseRolesEnv(text: string): PolicyDocument {
  const roles: Record<string, RoleDocument> = {};
  for (const part of text.split(';')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new PolicyError(safe(item), 'expected role=rule,rule');
    const name = item.slice(0, eq).trim();
    if (Object.prototype.hasOwnProperty.call(roles, name)) throw new PolicyError(`roles.${safe(name)}`, 'role given twice');
    const rules = item
      .slice(eq + 1)
      .split(',')
      .map(r => r.trim());
    if (rules.some(r => r === '')) throw new PolicyError(`roles.${safe(name)}`, 'empty rule');
    roles[name] = {rules};
  }
  if (Object.keys(roles).length === 0) throw new PolicyError('MTLS_ROLES', 'holds no role');
  return validatePolicyDocument({version: 1, roles});
}

/** The rule that stands for the dev/test PKI's operator (`clients/valid` of src/pki/dev-pki.ts). */
export const DEV_OPERATOR_RULE = 'uri:spiffe://hardened-mtls.test/client/valid';

/**
 * The policy when neither MTLS_POLICY_FILE nor MTLS_ROLES is set: the roles the shipped routes
 * use, held by nobody in production (every admitted identity still reaches the
 * `$authenticated` routes) and by the dev PKI's `valid` client otherwise.
 */
export function builtInPolicyDocument(production: boolean): PolicyDocument {
  const rules = production ? [] : [DEV_OPERATOR_RULE];
  return {
    version: 1,
    roles: {
      operator: {rules: [...rules], description: 'May use POST /fetch (outbound requests) and read the OpenAPI document.'},
      'spec-reader': {rules: [...rules], description: 'May read GET /openapi.json.'},
    },
  };
}

// --- compiled form -----------------------------------------------------------------------

export type IssuerSource = 'rule' | 'role' | 'trust-domain';

export interface CompiledRule {
  readonly rule: IdentityRule;
  /** Upper-case hex fingerprints of the CAs allowed to vouch; null = any trusted CA. */
  readonly issuers: ReadonlySet<string> | null;
  readonly issuerSource: IssuerSource | null;
}

export interface CompiledRole {
  readonly name: string;
  readonly rules: readonly CompiledRule[];
}

export interface CompiledPolicy {
  /** Where it came from: a file path, 'MTLS_ROLES' or 'built-in'. */
  readonly source: string;
  readonly roles: ReadonlyMap<string, CompiledRole>;
  /** Bumped by every successful (re)load; decisions cached per policy object. */
  readonly loadedAt: string;
}

/** Fingerprints of the CAs of each trust-domain bundle (read by the I/O layer). */
export type BundleFingerprints = ReadonlyMap<string, readonly string[]>;

function spiffeTrustDomain(rule: IdentityRule): string | undefined {
  if (rule.kind !== 'uri' || !rule.value.toLowerCase().startsWith('spiffe://')) return undefined;
  try {
    return new URL(rule.value).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

export function compilePolicy(doc: PolicyDocument, source: string, bundles: BundleFingerprints = new Map(), now = new Date()): CompiledPolicy {
  const roles = new Map<string, CompiledRole>();
  for (const [name, role] of Object.entries(doc.roles)) {
    const rules = role.rules.map((r): CompiledRule => {
      const entry: RuleDocument = typeof r === 'string' ? {match: r} : r;
      const rule = ruleOf(entry.match, `roles.${name}`);
      if (entry.issuers) return {rule, issuers: new Set(entry.issuers), issuerSource: 'rule'};
      if (role.issuers) return {rule, issuers: new Set(role.issuers), issuerSource: 'role'};
      const td = spiffeTrustDomain(rule);
      const bundle = td !== undefined ? bundles.get(td) : undefined;
      if (td !== undefined && doc.trustDomains?.[td]) {
        // Listed trust domain whose bundle was not handed in: bind to nothing (fail closed).
        return {rule, issuers: new Set(bundle ?? []), issuerSource: 'trust-domain'};
      }
      return {rule, issuers: null, issuerSource: null};
    });
    roles.set(name, {name, rules});
  }
  return {source, roles, loadedAt: now.toISOString()};
}

// --- evaluation ----------------------------------------------------------------------------

/** The verified identity: SANs and CN from the certificate, CA fingerprints from the verified path. */
export interface AuthzIdentity extends CertificateIdentity {
  /** Upper-case hex, no colons (normalizeFingerprint without the prefix), issuer first. */
  readonly caFingerprints: readonly string[];
}

export type AuthzDenyCode = 'AUTHZ_DENIED' | 'AUTHZ_NO_POLICY' | 'AUTHZ_ISSUER_MISMATCH';

export type AuthzDecision =
  | {readonly allow: true; readonly role: string; readonly rule: string | null}
  | {readonly allow: false; readonly code: AuthzDenyCode; readonly reason: string; readonly role?: string; readonly rule?: string};

/** Node's `AB:CD:…` fingerprint -> `ABCD…`. */
export function fingerprintKey(nodeFingerprint: string): string {
  return nodeFingerprint.replace(/:/g, '').toUpperCase();
}

function issuerOk(rule: CompiledRule, id: AuthzIdentity): boolean {
  if (rule.issuers === null) return true;
  for (const fp of id.caFingerprints) if (rule.issuers.has(fp)) return true;
  return false;
}

/**
 * Decide one operation. `allowedRoles` is the operation's `@authorize` allowedRoles (undefined or
 * empty = no policy). A role missing from the policy is held by nobody.
 */
export function evaluatePolicy(policy: CompiledPolicy, id: AuthzIdentity, allowedRoles: readonly string[] | undefined): AuthzDecision {
  if (!allowedRoles || allowedRoles.length === 0) {
    return {allow: false, code: 'AUTHZ_NO_POLICY', reason: 'the operation has no authorization metadata'};
  }
  let mismatch: {role: string; rule: string; source: IssuerSource | null} | undefined;
  for (const roleName of allowedRoles) {
    if (roleName === AUTHENTICATED_ROLE) return {allow: true, role: AUTHENTICATED_ROLE, rule: null};
    const role = policy.roles.get(roleName);
    if (!role) continue;
    for (const r of role.rules) {
      if (!matchIdentity([r.rule], id)) continue;
      if (issuerOk(r, id)) return {allow: true, role: roleName, rule: r.rule.text};
      mismatch ??= {role: roleName, rule: r.rule.text, source: r.issuerSource};
    }
  }
  if (mismatch) {
    return {
      allow: false,
      code: 'AUTHZ_ISSUER_MISMATCH',
      role: mismatch.role,
      rule: mismatch.rule,
      reason: `the identity matches rule "${mismatch.rule}" of role ${mismatch.role}, but no CA on its verified path is bound to it (${mismatch.source})`,
    };
  }
  return {allow: false, code: 'AUTHZ_DENIED', reason: `no rule of the allowed roles (${allowedRoles.join(', ')}) matches the identity`};
}

/** The roles the identity holds (SAN match and issuer bound), for GET /whoami. */
export function rolesOf(policy: CompiledPolicy, id: AuthzIdentity): string[] {
  const out: string[] = [];
  for (const role of policy.roles.values()) {
    if (role.rules.some(r => matchIdentity([r.rule], id) !== undefined && issuerOk(r, id))) out.push(role.name);
  }
  return out;
}

/** Roles referenced by operations but absent from the policy (start-up and reload refuse them). */
export function unknownRoles(policy: CompiledPolicy, referenced: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const r of referenced) if (r !== AUTHENTICATED_ROLE && !policy.roles.has(r)) out.add(r);
  return [...out].sort();
}
