/**
 * givenCrlDistributionPoint(): a plain HTTP server on 127.0.0.1 playing CRL distribution points.
 * Each path answers as configured (a real CRL, an HTTP status, arbitrary bytes, a redirect, a
 * declared-huge body, or never), and every request is counted per path, so a test can prove that
 * a download was coalesced, cached, or never attempted. stop() closes only this server's sockets.
 *
 * givenOpensslCrl(): a CRL made by `openssl ca -gencrl` (test/fixtures/openssl-ca.ts) for one of
 * the test PKI's CAs, listing the given certificates.
 */
import {writeFileSync} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {opensslGenCrl, OpensslCrlOptions} from '../../../fixtures/openssl-ca';
import {givenTempDir, IssuedCert} from '../../../fixtures/pki';

const LOOPBACK = '127.0.0.1';

export type DpAnswer =
  /** 200 with these bytes (a CRL, or garbage). */
  | {kind: 'body'; body: Buffer; contentType?: string}
  /** This status, empty body. */
  | {kind: 'status'; status: number}
  /** 302 to `location`. */
  | {kind: 'redirect'; location: string}
  /** 200 declaring `bytes` bytes in Content-Length, then a few bytes and nothing more. */
  | {kind: 'declared-large'; bytes: number}
  /** Read the request and never answer. */
  | {kind: 'hang'};

export interface CrlDistributionPoint {
  readonly port: number;
  /** `http://127.0.0.1:PORT/<name>` */
  url(name: string): string;
  /** Configure what `/<name>` answers (unconfigured paths answer 404). */
  serve(name: string, answer: DpAnswer): void;
  /** Requests received for `/<name>`. */
  hits(name: string): number;
  /** Requests received in total. */
  readonly total: number;
  stop(): Promise<void>;
}

export async function givenCrlDistributionPoint(): Promise<CrlDistributionPoint> {
  const answers = new Map<string, DpAnswer>();
  const counts = new Map<string, number>();
  let total = 0;
  const server = http.createServer((req, res) => {
    const name = (req.url ?? '/').replace(/^\//, '').split('?')[0];
    counts.set(name, (counts.get(name) ?? 0) + 1);
    total++;
    req.resume();
    const a = answers.get(name);
    res.on('error', () => undefined);
    if (!a) {
      res.writeHead(404, {'content-length': 0}).end();
      return;
    }
    switch (a.kind) {
      case 'body':
        res.writeHead(200, {'content-type': a.contentType ?? 'application/pkix-crl', 'content-length': a.body.length}).end(a.body);
        return;
      case 'status':
        res.writeHead(a.status, {'content-length': 0}).end();
        return;
      case 'redirect':
        res.writeHead(302, {location: a.location, 'content-length': 0}).end();
        return;
      case 'declared-large':
        res.writeHead(200, {'content-type': 'application/pkix-crl', 'content-length': a.bytes});
        res.write(Buffer.alloc(16, 0x30));
        return;
      case 'hang':
        return;
    }
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    url: name => `http://${LOOPBACK}:${port}/${name}`,
    serve: (name, answer) => void answers.set(name, answer),
    hits: name => counts.get(name) ?? 0,
    get total() {
      return total;
    },
    stop: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `openssl ca -gencrl` for the CA (cert/key files), listing `revoked`; DER by default. */
export function givenOpensslCrl(
  ca: {cert: string; key: string},
  revoked: readonly IssuedCert[] = [],
  opts: Pick<OpensslCrlOptions, 'lastUpdate' | 'nextUpdate' | 'days' | 'format' | 'crlNumber'> = {},
): Buffer {
  const dir = givenTempDir('hmtls-crl-');
  const files = revoked.map(c => {
    const f = path.join(dir, `${c.serialHex}.pem`);
    writeFileSync(f, c.certPem);
    return f;
  });
  return opensslGenCrl({caCertFile: ca.cert, caKeyFile: ca.key, revokedCertFiles: files, format: 'DER', ...opts});
}
