/**
 * Variant (d), the sidecar architecture: nginx (Debian's package) terminates mutual TLS and
 * proxies over HTTP keep-alive to plain LoopBack (bench/servers/plain-loopback.ts with
 * BENCH_UPSTREAM_HTTP=1) on loopback. nginx runs as one process (`master_process off`, so one
 * worker does everything, pinned like the upstream to the server CPU), configured at run time in
 * a temporary prefix directory (pid, logs, temp paths): no root, nothing outside the bench's work
 * directory. The configuration (renderNginxConf) is pure and unit-tested.
 *
 * Same handshake policy as the service as far as nginx can express it: TLS 1.3 only, the same
 * TLS 1.3 suites and groups, the same server certificate, client certificates required
 * (`ssl_verify_client on`) and verified against the same CA bundle, and the same CRLs (root and
 * intermediate: nginx's `ssl_crl` checks the whole chain). Same keep-alive limits as the service
 * (requests per connection, idle timeout). One access-log line per request, to /dev/null, as the
 * service writes one audit line per decision.
 *
 * Counters: requests and accepted connections from nginx's stub_status (on a second loopback
 * listener; the sampling request itself is subtracted), server CPU = nginx + upstream.
 */
import {ChildProcess, spawn} from 'node:child_process';
import {once} from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';
import {cpuUsOf, freePort, ServerHandle, ServerSample, sleep} from './runtime';

export interface NginxConfInput {
  prefix: string;
  port: number;
  statusPort: number;
  upstreamPort: number;
  serverCert: string;
  serverKey: string;
  caBundle: string;
  crlFile: string;
  tls13Suites: string;
  ecdhCurve: string;
  keepAliveRequests: number;
  keepAliveTimeoutS: number;
  maxBodyBytes: number;
  verifyDepth: number;
}

/** nginx.conf for variant (d). Pure. */
export function renderNginxConf(c: NginxConfInput): string {
  const p = (f: string) => path.join(c.prefix, f);
  return `# variant (d) of npm run bench: generated, do not edit
daemon off;
master_process off;
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} warn;
events {
  worker_connections 4096;
}
http {
  access_log /dev/null combined;
  client_body_temp_path ${p('client_body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
  server_tokens off;
  keepalive_requests ${c.keepAliveRequests};
  keepalive_timeout ${c.keepAliveTimeoutS}s;
  client_max_body_size ${c.maxBodyBytes};
  upstream loopback_app {
    server 127.0.0.1:${c.upstreamPort};
    keepalive 256;
    keepalive_requests ${c.keepAliveRequests};
  }
  server {
    listen 127.0.0.1:${c.port} ssl;
    ssl_certificate ${c.serverCert};
    ssl_certificate_key ${c.serverKey};
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites ${c.tls13Suites};
    ssl_ecdh_curve ${c.ecdhCurve};
    ssl_prefer_server_ciphers on;
    ssl_client_certificate ${c.caBundle};
    ssl_verify_client on;
    ssl_verify_depth ${c.verifyDepth};
    ssl_crl ${c.crlFile};
    location / {
      proxy_pass http://loopback_app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Client-Verify $ssl_client_verify;
      proxy_set_header X-Client-Subject $ssl_client_s_dn;
      proxy_set_header X-Client-Issuer $ssl_client_i_dn;
      proxy_set_header X-Client-Serial $ssl_client_serial;
    }
  }
  server {
    listen 127.0.0.1:${c.statusPort};
    access_log off;
    location = /status {
      stub_status;
    }
  }
}
`;
}

/** `Active connections: 1 \nserver accepts handled requests\n 10 10 20 \n...` -> accepts, requests. Pure. */
export function parseStubStatus(text: string): {accepts: number; requests: number} {
  const m = /server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)/.exec(text);
  if (!m) throw new Error(`unexpected stub_status answer: ${text.slice(0, 200)}`);
  return {accepts: Number(m[1]), requests: Number(m[3])};
}

function getText(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({host: '127.0.0.1', port, path: p, agent: false, timeout: 10_000}, res => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (body += d))
        .on('end', () => resolve(body))
        .on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('stub_status timeout')));
    req.on('error', reject);
  });
}

export interface NginxSpec {
  name: string;
  dir: string;
  cpu: number;
  upstream: ServerHandle;
  conf: Omit<NginxConfInput, 'prefix' | 'port' | 'statusPort' | 'upstreamPort'>;
}

/** Start nginx in front of an already started upstream; the handle samples and stops both. */
export async function startNginx(spec: NginxSpec): Promise<ServerHandle> {
  fs.mkdirSync(spec.dir, {recursive: true});
  const port = await freePort();
  const statusPort = await freePort();
  const confFile = path.join(spec.dir, 'nginx.conf');
  fs.writeFileSync(confFile, renderNginxConf({...spec.conf, prefix: spec.dir, port, statusPort, upstreamPort: spec.upstream.port}));
  const child: ChildProcess = spawn(
    'taskset',
    ['-c', String(spec.cpu), 'nginx', '-p', spec.dir, '-c', confFile, '-e', path.join(spec.dir, 'error.log')],
    {
      cwd: spec.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = once(child, 'exit');
  const errorLog = () => {
    try {
      return fs.readFileSync(path.join(spec.dir, 'error.log'), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  const stderrTail = () => `${stderr}${errorLog()}`;
  // Every stub_status request is one accepted connection and one request of nginx's own count.
  let statusCalls = 0;
  const status = () =>
    getText(statusPort, '/status').then(text => {
      statusCalls++;
      return parseStubStatus(text);
    });
  // Listening when stub_status answers (nginx prints nothing on start-up).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) before listening\n${stderrTail()}`);
    try {
      await status();
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not answer within 30 s: ${(e as Error).message}\n${stderrTail()}`, {cause: e});
      }
      await sleep(100);
    }
  }
  const pid = child.pid!;
  return {
    name: spec.name,
    pid,
    port,
    url: `https://127.0.0.1:${port}`,
    child,
    stderrTail,
    async sample(): Promise<ServerSample> {
      const st = await status();
      const up = await spec.upstream.sample();
      return {
        at: performance.now(),
        cpuUs: cpuUsOf(pid) + up.cpuUs,
        counters: {requests: st.requests - statusCalls, connections: st.accepts - statusCalls, resumed: 0, parses: up.counters.parses},
        eldMaxMs: up.eldMaxMs,
        cpuBlockMaxMs: up.cpuBlockMaxMs,
        memory: up.memory,
      };
    },
    resetEld() {
      spec.upstream.resetEld();
    },
    signal(sig) {
      child.kill(sig);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGQUIT = graceful shutdown, SIGTERM = fast shutdown (both end a master_process-off nginx).
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exited.catch(() => undefined);
        clearTimeout(t);
      }
      await spec.upstream.stop();
    },
  };
}
