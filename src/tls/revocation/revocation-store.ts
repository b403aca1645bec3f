/**
 * RevocationStore: the one mutable holder of the current RevocationIndex, shared by the TLS
 * connection gate, the authenticator and the hot-reload observer. Pure: no LoopBack imports.
 *
 * - `epoch` increases by one on every successful change (reload swap or fetched CRL installed);
 *   consumers may cache decisions keyed by epoch.
 * - reload() never throws: on failure the last good index stays in force and the result carries
 *   AppError CRL_RELOAD_FAILED (details.causeCode = the underlying CRL_* / TLS_* code).
 * - Reloads are serialised: a slow earlier reload can never overwrite a later one.
 * - 'change' is emitted synchronously with the new epoch after every swap. A throwing listener
 *   is a programming error and propagates to the caller of reload()/addFetched().
 */
import {EventEmitter} from 'node:events';
import type * as crypto from 'node:crypto';
import {AppError, toAppError} from '../../errors';
import {audit, Logger} from '../../logging/logger';
import type {ParsedCrl} from './crl-parser';
import {RevocationIndex} from './revocation-index';

export type ReloadResult = {ok: true; epoch: number} | {ok: false; error: AppError};

export interface RevocationStoreEvents {
  change: [epoch: number];
}

export class RevocationStore extends EventEmitter<RevocationStoreEvents> {
  private current: RevocationIndex;
  private currentEpoch = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    initial: RevocationIndex = RevocationIndex.empty(),
    private readonly logger?: Logger,
  ) {
    super();
    this.current = initial;
  }

  /** Load the start-up index; rejects like RevocationIndex.load() (the service must not start). */
  static async load(files: readonly string[], trustedCas: readonly crypto.X509Certificate[], logger?: Logger): Promise<RevocationStore> {
    return new RevocationStore(await RevocationIndex.load(files, trustedCas), logger);
  }

  get index(): RevocationIndex {
    return this.current;
  }

  get epoch(): number {
    return this.currentEpoch;
  }

  /** Install `next` unconditionally; returns the new epoch. */
  swap(next: RevocationIndex): number {
    this.current = next;
    this.currentEpoch++;
    this.emit('change', this.currentEpoch);
    return this.currentEpoch;
  }

  /** Re-load all CRL files; keeps the last good index on any failure. */
  reload(files: readonly string[], trustedCas: readonly crypto.X509Certificate[], now?: Date): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      let next: RevocationIndex;
      try {
        next = await RevocationIndex.load(files, trustedCas, now);
      } catch (e) {
        const cause = toAppError(e, 'CRL_INVALID');
        const error = new AppError('CRL_RELOAD_FAILED', ERROR_MESSAGE, {...cause.details, causeCode: cause.code}, {cause});
        if (this.logger) {
          audit(this.logger, {
            event: 'crl.reload',
            decision: 'deny',
            code: error.code,
            causeCode: cause.code,
            file: cause.details.file,
            epoch: this.currentEpoch,
          });
        }
        return {ok: false, error};
      }
      const epoch = this.swap(next);
      if (this.logger) audit(this.logger, {event: 'crl.reload', decision: 'allow', epoch, crls: next.crls.length});
      return {ok: true, epoch};
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Install a CRL fetched from a distribution point into the current index (same checks as
   * load()); bumps the epoch when it was installed. Rejects with the RevocationIndex.addFetched()
   * codes. Serialised with reloads.
   */
  addFetched(crl: ParsedCrl, issuer: crypto.X509Certificate, source?: string, now?: Date): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      const index = this.current;
      const installed = await index.addFetched(crl, issuer, source, now);
      if (installed && index === this.current) {
        this.currentEpoch++;
        this.emit('change', this.currentEpoch);
      }
      return installed;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

const ERROR_MESSAGE = 'CRL reload failed; the last good revocation state stays in force';
