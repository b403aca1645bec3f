/**
 * Hot reload of keys, certificates, the CA bundle and CRLs, without dropping connections.
 * Triggered by SIGHUP (wired in index.ts), by changes to any configured TLS file, and before a
 * CRL's nextUpdate. A reload is all-or-nothing: material and CRLs are loaded and validated
 * first; only when both are good are the new secure context (always the FULL option
 * set: setSecureContext resets what it is not given) and the new revocation index installed,
 * the session-ticket keys rotated (TLS 1.3
 * resumption keeps the old authentication), and open connections swept for clients the new
 * CRL or CA bundle no longer accepts. Invalid new files keep the old state and log a coded error,
 * and so does a CRL that is older than the one in force, or missing for a still-trusted CA
 * (CRL_ROLLBACK: a rollback would un-revoke certificates).
 *
 * Plain Node: no LoopBack imports.
 */
import {randomBytes, X509Certificate} from 'node:crypto';
import {FSWatcher, watch} from 'node:fs';
import path from 'node:path';
import type {Server as TlsServer} from 'node:tls';
import type {AppConfig} from '../config/config';
import {AppError, toAppError} from '../errors';
import type {Logger} from '../logging/logger';
import type {ConnectionGate} from './connection-gate';
import {loadTlsMaterial, TlsMaterial} from './tls-material';
import {buildSecureContextOptions} from './tls-options';
import {RevocationIndex} from './revocation/revocation-index';
import type {RevocationStore} from './revocation/revocation-store';

/** The trust state the authenticator reads: current material plus an epoch bumped per reload. */
export class TlsState {
  private _material: TlsMaterial;
  private _epoch = 0;
  constructor(material: TlsMaterial) {
    this._material = material;
  }
  get material(): TlsMaterial {
    return this._material;
  }
  get epoch(): number {
    return this._epoch;
  }
  replace(material: TlsMaterial): void {
    this._material = material;
    this._epoch++;
  }
}

export interface ReloadResult {
  ok: boolean;
  code?: string;
  closedConnections?: number;
}

/** True when the leaf was issued by one of the CAs (name/AKI match and signature). */
export function issuedByOneOf(leaf: X509Certificate, cas: readonly X509Certificate[]): boolean {
  return cas.some(ca => {
    try {
      return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/**
 * A reload must never lose revocation information: for every CA that stays trusted and whose CRL
 * came from a configured file, the new index must hold a CRL for it that is not older than the
 * one in force (higher or equal cRLNumber; earlier thisUpdate when either has no number). An
 * older CRL would silently un-revoke the certificates revoked since (a rollback); a missing one
 * turns every decision for that CA into "unknown". Returns AppError CRL_ROLLBACK, or undefined.
 */
export function revocationRollback(current: RevocationIndex, next: RevocationIndex, crlFiles: readonly string[]): AppError | undefined {
  const stillTrusted = new Set(next.trustedCas.map(c => c.fingerprint256));
  // One CRL per issuer AND scope (issuingDistributionPoint): partitioned CRLs of one CA are
  // compared partition by partition, never with each other.
  const key = (r: {issuerFingerprint256: string; scope?: string}) => `${r.issuerFingerprint256}/${r.scope ?? ''}`;
  const nextByIssuer = new Map(next.crls.map(r => [key(r), r]));
  for (const cur of current.crls) {
    if (!crlFiles.includes(cur.file) || !stillTrusted.has(cur.issuerFingerprint256)) continue;
    const n = nextByIssuer.get(key(cur));
    if (!n) {
      return new AppError('CRL_ROLLBACK', 'the reload would drop the CRL of a CA that is still trusted', {
        issuer: cur.issuerFingerprint256,
        scope: cur.scope,
        file: cur.file,
      });
    }
    const older =
      n.crlNumber !== undefined && cur.crlNumber !== undefined ? n.crlNumber < cur.crlNumber : n.thisUpdate.getTime() < cur.thisUpdate.getTime();
    if (older) {
      return new AppError('CRL_ROLLBACK', 'the reload would replace a CRL by an older one', {
        issuer: cur.issuerFingerprint256,
        file: n.file,
        crlNumber: n.crlNumber?.toString(),
        currentCrlNumber: cur.crlNumber?.toString(),
        thisUpdate: n.thisUpdate.toISOString(),
        currentThisUpdate: cur.thisUpdate.toISOString(),
      });
    }
  }
  return undefined;
}

const WATCH_DEBOUNCE_MS = 250;
const MAX_REFRESH_MS = 60 * 60 * 1000;
const REFRESH_MARGIN_MS = 60 * 1000;

export class TlsReloader {
  private running: Promise<ReloadResult> | undefined;
  private again = false;
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private ticketTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly state: TlsState,
    private readonly revocation: RevocationStore,
    private readonly server: TlsServer,
    private readonly gate: ConnectionGate,
    private readonly logger: Logger,
  ) {}

  /** Files whose change triggers a reload. */
  get files(): string[] {
    const t = this.config.tls;
    return [t.certFile, t.keyFile, t.caFile, ...t.crlFiles];
  }

  /** Serialised: a reload requested while one runs queues exactly one more. */
  reload(reason: string): Promise<ReloadResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.doReload(reason).finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.reload('queued');
      }
    });
    return this.running;
  }

  private async doReload(reason: string): Promise<ReloadResult> {
    let material: TlsMaterial;
    try {
      material = await loadTlsMaterial(this.config.tls);
    } catch (e) {
      const err = toAppError(e, 'TLS_RELOAD_FAILED');
      this.logger.error(
        {code: 'TLS_RELOAD_FAILED', cause: err.code, details: err.details, reason},
        'TLS reload refused; keeping the previous material',
      );
      return {ok: false, code: 'TLS_RELOAD_FAILED'};
    }
    let index: RevocationIndex;
    try {
      index = await RevocationIndex.load(this.config.tls.crlFiles, material.caCerts);
    } catch (e) {
      const err = toAppError(e, 'CRL_RELOAD_FAILED');
      this.logger.error(
        {code: 'CRL_RELOAD_FAILED', cause: err.code, details: err.details, reason},
        'CRL reload refused; keeping the last good revocation state and TLS material',
      );
      return {ok: false, code: 'CRL_RELOAD_FAILED'};
    }
    const rollback = revocationRollback(this.revocation.index, index, this.config.tls.crlFiles);
    if (rollback) {
      this.logger.error(
        {code: 'CRL_RELOAD_FAILED', cause: rollback.code, details: rollback.details, reason},
        'CRL reload refused; keeping the newer revocation state and TLS material',
      );
      return {ok: false, code: 'CRL_RELOAD_FAILED'};
    }
    try {
      this.server.setSecureContext(buildSecureContextOptions(this.config.tls, material));
    } catch (e) {
      const err = new AppError('TLS_RELOAD_FAILED', 'setSecureContext refused the material', {reason: (e as Error).message});
      this.logger.error({code: err.code, details: err.details}, 'TLS reload refused; keeping the previous secure context');
      return {ok: false, code: 'TLS_RELOAD_FAILED'};
    }
    // Both are good: switch trust and revocation together, then end old sessions' resumability.
    this.revocation.swap(index);
    this.rotateTicketKeys(reason);
    this.state.replace(material);
    const closedConnections = this.gate.sweep(leaf => issuedByOneOf(leaf, material.caCerts));
    this.logger.info(
      {event: 'tls.reload', reason, trustEpoch: this.state.epoch, revocationEpoch: this.revocation.epoch, closedConnections},
      'TLS material and CRLs reloaded',
    );
    this.scheduleRefresh();
    return {ok: true, closedConnections};
  }

  /**
   * New session-ticket keys: every ticket issued before is refused from now on (its client gets a
   * full handshake and a fresh certificate check). Called on every reload and every
   * TLS_TICKET_KEY_ROTATION_S, so no ticket key outlives that bound even when nothing reloads.
   */
  rotateTicketKeys(reason: string): void {
    this.server.setTicketKeys(randomBytes(48));
    this.logger.info({event: 'tls.ticket-keys.rotated', reason}, 'session ticket keys rotated');
  }

  /** Watch the directories (editors and Kubernetes Secret updates replace files by rename). */
  startWatching(): void {
    this.scheduleRefresh();
    clearInterval(this.ticketTimer);
    this.ticketTimer = setInterval(() => this.rotateTicketKeys('timer'), this.config.tls.ticketKeyRotationS * 1000);
    this.ticketTimer.unref();
    if (!this.config.tls.watch) return;
    const byDir = new Map<string, Set<string>>();
    for (const f of this.files) {
      const dir = path.dirname(f);
      if (!byDir.has(dir)) byDir.set(dir, new Set());
      byDir.get(dir)!.add(path.basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, {persistent: false}, (_event, name) => {
          // Kubernetes swaps a "..data" symlink; any event without a name may be ours too.
          if (name === null || names.has(String(name)) || String(name).startsWith('..')) this.onFileEvent();
        });
        w.on('error', err => this.logger.warn({err, dir}, 'TLS file watcher failed; SIGHUP still reloads'));
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn({err, dir}, 'cannot watch the TLS directory; SIGHUP still reloads');
      }
    }
  }

  private onFileEvent(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload('file-change'), WATCH_DEBOUNCE_MS);
    this.debounce.unref();
  }

  /** Re-read CRL files ahead of their nextUpdate (and at least hourly). */
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    if (this.stopped || this.config.tls.crlFiles.length === 0) return;
    const next = this.revocation.index.earliestNextUpdate();
    let delay = MAX_REFRESH_MS;
    if (next) delay = Math.min(delay, Math.max(1000, next.getTime() - Date.now() - REFRESH_MARGIN_MS));
    this.refreshTimer = setTimeout(() => void this.reload('crl-refresh'), delay);
    this.refreshTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.debounce);
    clearTimeout(this.refreshTimer);
    clearInterval(this.ticketTimer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
