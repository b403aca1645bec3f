/**
 * The fake public upstream: what "the internet" looks like to the service's outbound client in
 * the harness. A plain HTTP and a TLS listener on loopback (the connect shim sends the fake public
 * addresses here), per-path answers (the catalog's redirect cases) and a log of every request.
 * Its TLS certificate (public.test, *.public.test and the fake public IPs) comes from a CA made at
 * start-up; `ca` is handed to the outbound client as its trust anchor.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import {createRootCa, issueCertificate, OID} from '../../pki/x509-factory';
import type {EscapeCase} from '../catalog';
import {closeServer} from './canaries';
import {FAKE_PUBLIC_ADDRESSES} from './stub-resolver';

export interface UpstreamAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Never answer (the connection is closed at close()). */
  hang?: boolean;
}

export interface UpstreamRequest {
  method: string;
  path: string;
  host: string;
  tls: boolean;
  /** The request body (first 64 KiB). */
  body: string;
}

export interface FakeUpstream {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** PEM of the CA that issued the upstream's certificate. */
  readonly ca: string;
  readonly requests: UpstreamRequest[];
  route(pathname: string, answer: UpstreamAnswer): void;
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_UPSTREAM_BODY = '{"upstream":"fake-public"}';

/**
 * The routes a case needs: its `upstream` answer at the payload's path, and for a two-hop
 * description ("URL (which itself returns 302 -> URL2)") the second hop too.
 */
export function upstreamRoutesFor(c: Pick<EscapeCase, 'payload' | 'upstream'>): Array<[string, UpstreamAnswer]> {
  if (!c.upstream) return [];
  const start = new URL(c.payload);
  const m = /^(\S+)(?:\s+\(which itself returns (\d{3})\s*->\s*(\S+?)\))?$/.exec(c.upstream.location ?? '');
  const routes: Array<[string, UpstreamAnswer]> = [[start.pathname, {status: c.upstream.status, headers: m ? {location: m[1]} : {}, body: ''}]];
  if (m && m[2]) {
    const hop = new URL(m[1], start);
    routes.push([hop.pathname, {status: Number(m[2]), headers: {location: m[3]}, body: ''}]);
  }
  return routes;
}

function listenEphemeral(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({host: '127.0.0.1', port: 0}, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const now = Date.now();
  const ca = await createRootCa({
    name: 'escape-upstream-ca',
    cn: 'Escape Harness Upstream CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 7 * 24 * 3600_000),
  });
  const leaf = await issueCertificate(ca, {
    name: 'public.test',
    cn: 'public.test',
    eku: [OID.serverAuth],
    sans: {dns: ['public.test', '*.public.test'], ip: [...FAKE_PUBLIC_ADDRESSES]},
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 7 * 24 * 3600_000),
  });
  const requests: UpstreamRequest[] = [];
  const routes = new Map<string, UpstreamAnswer>();
  const handler = (isTls: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const record: UpstreamRequest = {method: req.method ?? 'GET', path: req.url ?? '/', host: req.headers.host ?? '', tls: isTls, body: ''};
    requests.push(record);
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      if (record.body.length < 65536) record.body += d;
    });
    req.on('end', () => {
      const answer = routes.get((req.url ?? '/').split('?')[0]) ?? {
        status: 200,
        headers: {'content-type': 'application/json'},
        body: DEFAULT_UPSTREAM_BODY,
      };
      if (answer.hang) return;
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  };
  const httpsServer = https.createServer({cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2'}, handler(true));
  const httpServer = http.createServer(handler(false));
  const servers: net.Server[] = [];
  try {
    const httpsPort = await listenEphemeral(httpsServer);
    servers.push(httpsServer);
    const httpPort = await listenEphemeral(httpServer);
    servers.push(httpServer);
    return {
      httpPort,
      httpsPort,
      ca: ca.certPem,
      requests,
      route: (p, a) => void routes.set(p, a),
      reset: () => {
        requests.length = 0;
        routes.clear();
      },
      close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
    };
  } catch (e) {
    await Promise.all(servers.map(closeServer));
    throw e;
  }
}
