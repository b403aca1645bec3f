/**
 * Canaries: listeners that stand in for internal services (Docker 2375/2376, etcd 2379, API server
 * 6443, kubectl proxy 8001, kubelet 10250/10255, plain HTTP 80, and a unix socket). Each counts
 * the connections it accepts and closes them at once. A reject case must leave every counter at 0.
 *
 * Each canary first tries its real address (e.g. 127.0.0.1:2375). When that cannot be bound (port
 * busy, e.g. a real Docker daemon, or below 1024 without privileges) it listens on an ephemeral
 * port instead and `bound` says so: the connect shim sends every loopback destination to the
 * canary for that address and port, so the outbound client still lands on a canary, never on a
 * real local service.
 */
import fs from 'node:fs';
import net from 'node:net';

export const CANARY_PORTS: readonly number[] = [80, 2375, 2376, 2379, 6443, 8001, 10250, 10255];
export const CANARY_HOSTS: readonly string[] = ['127.0.0.1', '::1'];

export interface CanaryInfo {
  /** e.g. '127.0.0.1:2375', '[::1]:80', '127.0.0.1:*' (any other loopback port), 'unix'. */
  key: string;
  /** Where it actually listens. */
  host: string;
  port: number;
  /** 'fixed': on the real address; 'ephemeral': reached through the connect shim only. */
  bound: 'fixed' | 'ephemeral' | 'unix';
  /** Why the fixed address could not be bound. */
  fallbackReason?: string;
}

export interface Canaries {
  readonly list: readonly CanaryInfo[];
  readonly unixSocketPath: string;
  counts(): Record<string, number>;
  total(): number;
  reset(): void;
  /** The canary for a loopback destination (exact port, else the catch-all of that family). */
  route(address: string, port: number): {host: string; port: number; key: string};
  close(): Promise<void>;
}

export function canaryKey(host: string, port: number | '*'): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function listen(server: net.Server, opts: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(opts, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise(resolve => {
    (server as net.Server & {closeAllConnections?: () => void}).closeAllConnections?.();
    server.close(() => resolve());
  });
}

function describeBindError(e: NodeJS.ErrnoException): string {
  if (e.code === 'EADDRINUSE') return 'EADDRINUSE: the port is busy';
  if (e.code === 'EACCES') return 'EACCES: ports below 1024 need privileges';
  if (e.code === 'EADDRNOTAVAIL') return 'EADDRNOTAVAIL: the address is not configured';
  return `${e.code ?? 'error'}: ${e.message}`;
}

export function isLoopbackAddress(a: string): boolean {
  const s = a.toLowerCase();
  return s === '::1' || /^127\./.test(s) || /^::ffff:127\./.test(s) || s === '0:0:0:0:0:0:0:1';
}

export interface CanaryOptions {
  unixSocketPath: string;
  ports?: readonly number[];
  hosts?: readonly string[];
  /** Fail instead of falling back to an ephemeral port when a real address cannot be bound. */
  strictPorts?: boolean;
}

export async function startCanaries(opts: CanaryOptions): Promise<Canaries> {
  const ports = opts.ports ?? CANARY_PORTS;
  const hosts = opts.hosts ?? CANARY_HOSTS;
  const servers: net.Server[] = [];
  const counts: Record<string, number> = {};
  const list: CanaryInfo[] = [];
  const make = (key: string) => {
    counts[key] = 0;
    return net.createServer(sock => {
      counts[key]++;
      sock.on('error', () => {});
      sock.destroy();
    });
  };
  try {
    for (const host of hosts) {
      for (const port of [...ports, '*' as const]) {
        const key = canaryKey(host, port);
        const server = make(key);
        const v6 = host.includes(':');
        if (port !== '*') {
          try {
            await listen(server, {host, port, exclusive: true, ipv6Only: v6});
            servers.push(server);
            list.push({key, host, port, bound: 'fixed'});
            continue;
          } catch (e) {
            if (opts.strictPorts) throw new Error(`canary ${key}: ${describeBindError(e as NodeJS.ErrnoException)}`, {cause: e});
            await listen(server, {host, port: 0, exclusive: true, ipv6Only: v6});
            servers.push(server);
            list.push({
              key,
              host,
              port: (server.address() as net.AddressInfo).port,
              bound: 'ephemeral',
              fallbackReason: describeBindError(e as NodeJS.ErrnoException),
            });
            continue;
          }
        }
        await listen(server, {host, port: 0, exclusive: true, ipv6Only: v6});
        servers.push(server);
        list.push({key, host, port: (server.address() as net.AddressInfo).port, bound: 'ephemeral'});
      }
    }
    const unix = make('unix');
    fs.rmSync(opts.unixSocketPath, {force: true});
    await listen(unix, {path: opts.unixSocketPath});
    servers.push(unix);
    list.push({key: 'unix', host: opts.unixSocketPath, port: 0, bound: 'unix'});
  } catch (e) {
    await Promise.all(servers.map(closeServer));
    throw new Error(`escape harness: a canary could not listen: ${(e as Error).message}`, {cause: e});
  }

  const byKey = new Map(list.map(c => [c.key, c]));
  return {
    list,
    unixSocketPath: opts.unixSocketPath,
    counts: () => ({...counts}),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const k of Object.keys(counts)) counts[k] = 0;
    },
    route: (address, port) => {
      const v6 = address.includes(':') && !/^::ffff:127\./i.test(address);
      const host = v6 ? '::1' : '127.0.0.1';
      const c = byKey.get(canaryKey(host, port)) ?? byKey.get(canaryKey(host, '*'))!;
      return {host: c.host, port: c.port, key: c.key};
    },
    close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
  };
}
