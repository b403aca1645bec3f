/**
 * Where the role policy comes from, and how it is replaced: the I/O half of the authorization
 * policy (the pure half is src/identity/role-policy.ts).
 *
 *   MTLS_POLICY_FILE set   -> that file (YAML or JSON, at most 1 MiB; aliases refused; duplicate
 *                             keys refused); trustDomains bundles are read relative to it
 *   MTLS_ROLES set         -> the built-in roles with these roles replacing or added
 *   neither                -> the built-in roles (builtInPolicyDocument)
 *
 * PolicyStore holds the current CompiledPolicy. A reload (SIGHUP, or a change of the file when
 * TLS_WATCH is on) builds a new one and swaps the reference atomically; an invalid file, or one
 * that drops a role an operation uses, keeps the old policy and logs AUTHZ_POLICY_RELOAD_FAILED.
 * A request reads `store.current` once, so it finishes on the policy it started with.
 */
import {X509Certificate} from 'node:crypto';
import {FSWatcher, watch} from 'node:fs';
import {open} from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type {AppConfig} from '../config/config';
import {AppError} from '../errors';
import {
  builtInPolicyDocument,
  compilePolicy,
  CompiledPolicy,
  fingerprintKey,
  PolicyDocument,
  PolicyError,
  unknownRoles,
  validatePolicyDocument,
} from '../identity/role-policy';
import {audit, Logger} from '../logging/logger';

export const MAX_POLICY_BYTES = 1024 * 1024;
const WATCH_DEBOUNCE_MS = 250;

async function readBounded(file: string, what: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new PolicyError(what, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new PolicyError(what, 'is not a regular file');
    if (st.size > MAX_POLICY_BYTES) throw new PolicyError(what, `is larger than ${MAX_POLICY_BYTES} bytes`);
    const buf = Buffer.alloc(Math.min(st.size, MAX_POLICY_BYTES) + 1);
    const {bytesRead} = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_POLICY_BYTES) throw new PolicyError(what, `is larger than ${MAX_POLICY_BYTES} bytes`);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Parse YAML or JSON text into a document (validated). Pure apart from the error type. */
export function parsePolicyText(text: string, fileName: string): PolicyDocument {
  let raw: unknown;
  if (fileName.toLowerCase().endsWith('.json')) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new PolicyError(path.basename(fileName), `not valid JSON (${(e as Error).message.slice(0, 120)})`);
    }
  } else {
    const doc = YAML.parseDocument(text, {uniqueKeys: true, prettyErrors: false, schema: 'core'});
    if (doc.errors.length > 0)
      throw new PolicyError(path.basename(fileName), `not valid YAML (${doc.errors[0].code}: line ${doc.errors[0].linePos?.[0]?.line ?? '?'})`);
    try {
      raw = doc.toJS({maxAliasCount: 0});
    } catch (e) {
      throw new PolicyError(path.basename(fileName), `not valid YAML (${(e as Error).message.slice(0, 120)})`);
    }
  }
  return validatePolicyDocument(raw);
}

/** SHA-256 fingerprints (upper-case hex) of every certificate of a PEM bundle. */
async function bundleFingerprints(file: string, where: string): Promise<string[]> {
  const pem = (await readBounded(file, where)).toString('latin1');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new PolicyError(where, 'holds no certificate');
  return blocks.map((b, i) => {
    let c: X509Certificate;
    try {
      c = new X509Certificate(b);
    } catch {
      throw new PolicyError(`${where}[${i}]`, 'is not a parseable certificate');
    }
    if (!c.ca) throw new PolicyError(`${where}[${i}]`, 'is not a CA certificate');
    return fingerprintKey(c.fingerprint256);
  });
}

/** Build the policy from the configuration (reads MTLS_POLICY_FILE and its bundles). Throws PolicyError. */
export async function loadPolicy(config: AppConfig): Promise<CompiledPolicy> {
  const file = config.authz.policyFile;
  if (file) {
    const doc = parsePolicyText((await readBounded(file, 'MTLS_POLICY_FILE')).toString('utf8'), file);
    const bundles = new Map<string, string[]>();
    for (const [td, {bundle}] of Object.entries(doc.trustDomains ?? {})) {
      bundles.set(td, await bundleFingerprints(path.resolve(path.dirname(file), bundle), `trustDomains.${td}.bundle`));
    }
    return compilePolicy(doc, file, bundles);
  }
  return policyWithoutFile(config);
}

/** The built-in roles, with MTLS_ROLES replacing or adding roles (no I/O). */
export function policyWithoutFile(config: AppConfig): CompiledPolicy {
  const builtIn = builtInPolicyDocument(config.env === 'production');
  if (config.authz.roles) return compilePolicy({version: 1, roles: {...builtIn.roles, ...config.authz.roles.roles}}, 'MTLS_ROLES');
  return compilePolicy(builtIn, 'built-in');
}

function asStartupError(e: unknown): AppError {
  if (e instanceof PolicyError) return new AppError('AUTHZ_POLICY_INVALID', `authorization policy: ${e.message}`, {where: e.where});
  if (e instanceof AppError) return e;
  return new AppError('AUTHZ_POLICY_INVALID', 'authorization policy could not be loaded', {reason: (e as Error)?.message});
}

export class PolicyStore {
  private policy: CompiledPolicy;
  private referenced: readonly string[] = [];
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopped = false;
  private reloading: Promise<boolean> | undefined;

  private constructor(
    private readonly config: AppConfig,
    private readonly logger: Logger,
    policy: CompiledPolicy,
  ) {
    this.policy = policy;
  }

  /** Load at start-up; a bad policy throws AppError AUTHZ_POLICY_INVALID (exit 78). */
  static async load(config: AppConfig, logger: Logger): Promise<PolicyStore> {
    let policy: CompiledPolicy;
    try {
      policy = await loadPolicy(config);
    } catch (e) {
      throw asStartupError(e);
    }
    const store = new PolicyStore(config, logger, policy);
    store.logLoaded('startup');
    return store;
  }

  /** Without MTLS_POLICY_FILE the policy needs no I/O (embedding, tests). */
  static withoutFile(config: AppConfig, logger: Logger): PolicyStore {
    if (config.authz.policyFile) throw new AppError('AUTHZ_POLICY_INVALID', 'MTLS_POLICY_FILE is set: load the policy with PolicyStore.load()');
    return new PolicyStore(config, logger, policyWithoutFile(config));
  }

  /** The policy in force; read once per request. */
  get current(): CompiledPolicy {
    return this.policy;
  }

  /**
   * The roles operations use (from their @authorize metadata, found by the start-up audit).
   * Throws AUTHZ_POLICY_INVALID when the current policy lacks one; later reloads must keep them all.
   */
  requireRoles(roles: Iterable<string>): void {
    this.referenced = [...new Set(roles)].sort();
    const missing = unknownRoles(this.policy, this.referenced);
    if (missing.length > 0) {
      throw new AppError('AUTHZ_POLICY_INVALID', `authorization policy: @authorize names role(s) the policy does not define: ${missing.join(', ')}`, {
        roles: missing,
        source: this.policy.source,
      });
    }
  }

  /** Reload; true when the new policy is in force. Concurrent calls share one reload. */
  reload(reason: string): Promise<boolean> {
    if (this.reloading) return this.reloading;
    this.reloading = this.doReload(reason).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(reason: string): Promise<boolean> {
    try {
      const next = await loadPolicy(this.config);
      const missing = unknownRoles(next, this.referenced);
      if (missing.length > 0) throw new PolicyError('roles', `the new policy drops role(s) operations use: ${missing.join(', ')}`);
      this.policy = next;
      this.logLoaded(reason);
      return true;
    } catch (e) {
      const why = e instanceof PolicyError ? e.message : ((e as Error)?.message ?? 'error');
      audit(this.logger, {
        event: 'authz.policy.reload',
        decision: 'deny',
        code: 'AUTHZ_POLICY_RELOAD_FAILED',
        reason,
        why,
        source: this.policy.source,
        keptLoadedAt: this.policy.loadedAt,
      });
      return false;
    }
  }

  private logLoaded(reason: string): void {
    const roles: Record<string, number> = {};
    for (const r of this.policy.roles.values()) roles[r.name] = r.rules.length;
    this.logger.info(
      {event: 'authz.policy', reason, source: this.policy.source, roles, loadedAt: this.policy.loadedAt},
      'authorization policy in force',
    );
    if (this.policy.source === 'built-in' && this.config.env === 'production') {
      this.logger.warn(
        {event: 'authz.policy', source: 'built-in'},
        'no MTLS_POLICY_FILE / MTLS_ROLES: only $authenticated operations are reachable (roles operator, spec-reader are held by nobody)',
      );
    }
  }

  /** Watch the policy file's directory (editors and Kubernetes replace files by rename). */
  startWatching(): void {
    const file = this.config.authz.policyFile;
    if (!file || !this.config.tls.watch || this.watcher) return;
    const dir = path.dirname(file);
    const name = path.basename(file);
    try {
      this.watcher = watch(dir, {persistent: false}, (_event, changed) => {
        if (changed === null || String(changed) === name || String(changed).startsWith('..')) this.onFileEvent();
      });
      this.watcher.on('error', err => this.logger.warn({err, dir}, 'policy file watcher failed; SIGHUP still reloads'));
    } catch (err) {
      this.logger.warn({err, dir}, 'cannot watch the policy directory; SIGHUP still reloads');
    }
  }

  private onFileEvent(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload('file-change'), WATCH_DEBOUNCE_MS);
    this.debounce.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
