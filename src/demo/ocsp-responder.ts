/**
 * A local OCSP responder for the demo: the real `openssl ocsp` responder code, on loopback only.
 *
 * `openssl ocsp -port N` (OpenSSL 3.0) binds `[::]:N`, i.e. every interface, and has no
 * bind-address option. So a Node HTTP listener bound to 127.0.0.1 receives each
 * `application/ocsp-request` and answers it with
 *   openssl ocsp -index INDEX -CA ISSUER -rsigner RESPONDER.crt -rkey RESPONDER.key -ndays 1 \
 *     -reqin REQUEST.der -respout RESPONSE.der
 * which is the same index lookup, CertID handling, nonce copy and signing as `-port` mode, one
 * child per request, reading the index afresh each time (so a newly revoked row is seen at once).
 *
 * stop() closes the listener and its sockets and ends only this responder's own children.
 */
import {ChildProcess, execFile} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

export interface OcspResponderFiles {
  /** `openssl ca` index (V/R rows). */
  index: string;
  /** Certificate of the CA whose certificates are answered for (-CA). */
  issuerCert: string;
  /** Delegated responder certificate (id-kp-OCSPSigning) and key (-rsigner / -rkey). */
  signerCert: string;
  signerKey: string;
}

export class LoopbackOcspResponder {
  /** Requests answered (by a real openssl ocsp run) since start. */
  answered = 0;
  private readonly children = new Set<ChildProcess>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    private readonly files: OcspResponderFiles,
    private readonly workDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** The openssl command line run for one request (for display). */
  commandFor(reqFile: string, respFile: string): string[] {
    return [
      'openssl',
      'ocsp',
      '-index',
      this.files.index,
      '-CA',
      this.files.issuerCert,
      '-rsigner',
      this.files.signerCert,
      '-rkey',
      this.files.signerKey,
      '-ndays',
      '1',
      '-reqin',
      reqFile,
      '-respout',
      respFile,
    ];
  }

  /**
   * Bind 127.0.0.1 first (port 0 = any free port) so the URL can go into the certificates'
   * AIA; `files` must exist by the time the first request arrives.
   */
  static async listen(files: OcspResponderFiles, workDir: string, port = 0): Promise<LoopbackOcspResponder> {
    await fs.mkdir(workDir, {recursive: true, mode: 0o700});
    let self: LoopbackOcspResponder | undefined;
    const server = http.createServer((req, res) => {
      if (!self) {
        res.writeHead(503).end();
        return;
      }
      self.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    self = new LoopbackOcspResponder(server, (server.address() as net.AddressInfo).port, files, workDir);
    server.on('connection', s => {
      self!.sockets.add(s);
      s.on('close', () => self!.sockets.delete(s));
    });
    return self;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST') {
      res.writeHead(405, {'content-length': 0}).end();
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > 64 * 1024) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      this.answer(Buffer.concat(chunks)).then(
        out => {
          this.answered++;
          res.writeHead(200, {'content-type': 'application/ocsp-response', 'content-length': out.length}).end(out);
        },
        () => {
          if (!res.headersSent) res.writeHead(500, {'content-length': 0}).end();
        },
      );
    });
  }

  private async answer(reqDer: Buffer): Promise<Buffer> {
    const id = crypto.randomBytes(8).toString('hex');
    const reqFile = path.join(this.workDir, `${id}.req`);
    const respFile = path.join(this.workDir, `${id}.resp`);
    await fs.writeFile(reqFile, reqDer, {mode: 0o600});
    try {
      const argv = this.commandFor(reqFile, respFile);
      await new Promise<void>((resolve, reject) => {
        const child = execFile(argv[0], argv.slice(1), {timeout: 10_000}, (err, _out, stderr) => {
          this.children.delete(child);
          if (err) reject(new Error(`openssl ocsp failed: ${stderr || err.message}`));
          else resolve();
        });
        this.children.add(child);
      });
      return await fs.readFile(respFile);
    } finally {
      await Promise.all([fs.rm(reqFile, {force: true}), fs.rm(respFile, {force: true})]);
    }
  }

  /** Take the responder down: no listener on the port afterwards. */
  async stop(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    for (const s of this.sockets) s.destroy();
    if (!this.server.listening) return;
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }
}
