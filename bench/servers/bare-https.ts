/**
 * Variant (a), the floor: a bare Node https server with exactly the service's TLS options
 * (buildServerTlsOptions) and HTTP limits, a per-connection identity cache, GET /whoami and
 * POST /echo. Run as a child process by the bench (env like the service: HOST, PORT, TLS_*).
 */
import 'reflect-metadata';
import * as https from 'node:https';
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {TLSSocket} from 'node:tls';
import {applyHttpLimits, baselineSetup, echoBody, whoamiBody} from './common';

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
  res.end(body);
}

async function main(): Promise<void> {
  const {config, tlsOptions} = await baselineSetup();
  const limit = config.http.maxBodyBytes;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (req.method === 'GET' && path === '/whoami') {
      const body = whoamiBody(req.socket as TLSSocket);
      if (body === undefined) send(res, 401, '{"error":{"code":"AUTH_CERT_UNTRUSTED","message":"client certificate refused"}}');
      else send(res, 200, body);
      return;
    }
    if (req.method === 'POST' && path === '/echo') {
      if (whoamiBody(req.socket as TLSSocket) === undefined) {
        req.resume();
        send(res, 401, '{"error":{"code":"AUTH_CERT_UNTRUSTED","message":"client certificate refused"}}');
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          send(res, 413, '{"error":{"code":"GUARD_BODY_TOO_LARGE","message":"body too large"}}');
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (res.headersSent) return;
        try {
          send(res, 200, echoBody(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        } catch {
          send(res, 400, '{"error":{"code":"BAD_REQUEST","message":"invalid JSON"}}');
        }
      });
      return;
    }
    req.resume();
    send(res, 404, '{"error":{"code":"NOT_FOUND","message":"not found"}}');
  };
  const server = https.createServer(tlsOptions as https.ServerOptions, handler);
  applyHttpLimits(server, config);
  server.listen(config.port, config.host);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(e => {
  process.stderr.write(`bare-https: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
