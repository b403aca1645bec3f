/**
 * The escape harness (catalog.README "Environment the harness must provide"), as product code:
 * the runner starts it for a local target, and the guard tests use it through
 * test/fixtures/escape-harness.ts.
 *
 * - canaries on 127.0.0.1 and ::1 at 80, 2375, 2376, 2379, 6443, 8001, 10250, 10255, a catch-all
 *   per family for any other loopback port, and a unix socket; each counts connections;
 * - a stub resolver (`lookup`) with the catalog's answers, public.test -> 93.184.215.14, NXDOMAIN else;
 * - a connect shim (`connectShim`) that runs after the outbound client's address check: the fake
 *   public addresses go to the fake upstream (port 443 -> TLS listener, else plain HTTP), loopback
 *   addresses go to their canary, anything else is refused and recorded in `blockedConnects`
 *   (nothing ever leaves loopback, and a guard failure is always counted);
 * - the fake public upstream (per-path answers, request log).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {DnsAnswers, EscapeCase} from '../catalog';
import {CanaryInfo, Canaries, isLoopbackAddress, startCanaries} from './canaries';
import {FakeUpstream, startFakeUpstream, UpstreamAnswer, UpstreamRequest, upstreamRoutesFor} from './fake-upstream';
import {createStubResolver, FAKE_PUBLIC_ADDRESSES} from './stub-resolver';
import type {CheckedDestination, ConnectShim, LookupFn, OutboundOverrides} from './types';

export * from './types';
export {CANARY_HOSTS, CANARY_PORTS, canaryKey, isLoopbackAddress} from './canaries';
export type {CanaryInfo} from './canaries';
export {DEFAULT_UPSTREAM_BODY, upstreamRoutesFor} from './fake-upstream';
export type {UpstreamAnswer, UpstreamRequest} from './fake-upstream';
export {FAKE_PUBLIC_ADDRESSES, PUBLIC_TEST_ADDRESS, createStubResolver} from './stub-resolver';

export interface EscapeHarness {
  readonly lookup: LookupFn;
  readonly connectShim: ConnectShim;
  /** PEM of the CA that issued the fake upstream's certificate. */
  readonly ca: string;
  /** {lookup, connectShim, ca} for the service's outbound client. */
  readonly outbound: OutboundOverrides;
  readonly unixSocketPath: string;
  readonly canaries: readonly CanaryInfo[];
  readonly upstream: {
    readonly requests: UpstreamRequest[];
    route(pathname: string, answer: UpstreamAnswer): void;
    reset(): void;
  };
  /** Destinations the shim refused (neither loopback nor fake public). Each is an internal connection attempt. */
  readonly blockedConnects: string[];
  /** Names looked up, in order. */
  readonly lookups: string[];
  /** Connections per canary, e.g. {'127.0.0.1:2375': 0, 'unix': 0}. */
  canaryCounts(): Record<string, number>;
  totalCanaryConnections(): number;
  /** Canary connections plus refused non-public destinations. */
  internalConnectionAttempts(): number;
  /** Install the fake upstream routes a case needs (after reset()). */
  prepare(c: Pick<EscapeCase, 'payload' | 'upstream'>): void;
  /** Zero the counters, the request log, the lookup log, the routes and the DNS sequences. */
  reset(): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Stub DNS answers (usually dnsTable(catalog cases)). */
  dns?: DnsAnswers;
  /** Directory for the unix-socket canary (default: a fresh temp dir, removed at close()). */
  dir?: string;
  /** Fail when a canary cannot listen on its real address (default: fall back, reached via the shim). */
  strictPorts?: boolean;
}

export async function startEscapeHarness(opts: HarnessOptions = {}): Promise<EscapeHarness> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'escape-harness-'));
  fs.mkdirSync(dir, {recursive: true, mode: 0o700});
  let canaries: Canaries | undefined;
  let upstream: FakeUpstream | undefined;
  const cleanup = async () => {
    await canaries?.close();
    await upstream?.close();
    if (ownDir) fs.rmSync(dir, {recursive: true, force: true});
  };
  try {
    canaries = await startCanaries({unixSocketPath: path.join(dir, 'docker.sock'), strictPorts: opts.strictPorts});
    upstream = await startFakeUpstream();
  } catch (e) {
    await cleanup();
    throw e;
  }
  const c = canaries;
  const up = upstream;
  const resolver = createStubResolver(opts.dns ?? {});
  const blockedConnects: string[] = [];
  const connectShim: ConnectShim = (dest: CheckedDestination) => {
    if (FAKE_PUBLIC_ADDRESSES.includes(dest.address)) return {host: '127.0.0.1', port: dest.port === 443 ? up.httpsPort : up.httpPort};
    if (isLoopbackAddress(dest.address)) {
      const r = c.route(dest.address, dest.port);
      return {host: r.host, port: r.port};
    }
    blockedConnects.push(`${dest.address.includes(':') ? `[${dest.address}]` : dest.address}:${dest.port}`);
    throw new Error(`escape harness: refusing a connection to ${dest.address}:${dest.port} (neither loopback nor fake public)`);
  };
  const reset = () => {
    c.reset();
    up.reset();
    resolver.reset();
    blockedConnects.length = 0;
  };
  return {
    lookup: resolver.lookup,
    connectShim,
    ca: up.ca,
    outbound: {lookup: resolver.lookup, connectShim, ca: up.ca},
    unixSocketPath: c.unixSocketPath,
    canaries: c.list,
    upstream: {requests: up.requests, route: up.route, reset: up.reset},
    blockedConnects,
    lookups: resolver.lookups,
    canaryCounts: c.counts,
    totalCanaryConnections: c.total,
    internalConnectionAttempts: () => c.total() + blockedConnects.length,
    prepare: k => {
      for (const [p, a] of upstreamRoutesFor(k)) up.route(p, a);
    },
    reset,
    close: cleanup,
  };
}
