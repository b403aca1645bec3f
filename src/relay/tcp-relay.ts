/**
 * A minimal, bounded L4 (TCP) relay: accepts on RELAY_LISTEN and copies bytes to and from ONE
 * fixed RELAY_TARGET (src/relay/relay-config.ts). It never reads, parses or terminates what it
 * carries, so TLS passes through untouched: the mTLS handshake stays end to end between the client
 * and the service, which still verifies the client certificate itself.
 *
 * Why it exists (docs/container.md "Egress"): in compose the service joins only internal
 * (egress-less) networks; a published port needs a non-internal network, so this relay is the one
 * process on both the published `edge` network and the internal `app` network. The same module
 * forwards the service's OCSP/CRL requests to one configured outside endpoint (`ocsp-egress`).
 *
 * Bounds: RELAY_MAX_CONNECTIONS concurrent connections (more are closed at accept), a connect
 * timeout to the target, an idle timeout in both directions, backpressure through stream.pipe,
 * and a bounded graceful shutdown on SIGTERM/SIGINT. One structured audit line per connection
 * (relay.connection: peer, bytes each way, duration, why it ended); refusals carry a code.
 *
 * The service sees the relay's address as the TCP peer: its audit lines name the relay, not the
 * client (the verified certificate identity is still there). A fork that needs client addresses
 * uses the PROXY protocol or a real L4 load balancer that preserves them (docs/container.md).
 *
 *   node dist/src/relay/tcp-relay.js            run the relay
 *   node dist/src/relay/tcp-relay.js --health   exit 0 if a socket is LISTENing on RELAY_LISTEN's
 *                                               port (read from /proc/net/tcp*: no connection is
 *                                               made, so a health probe never reaches the target)
 */
import fs from 'node:fs';
import net from 'node:net';
import {AppError, toAppError} from '../errors';
import {audit, createLogger, Logger} from '../logging/logger';
import {parseRelayConfig, RelayConfig} from './relay-config';

export interface RunningRelay {
  readonly address: net.AddressInfo;
  /** Open relayed connections. */
  active(): number;
  /** Stop accepting; wait up to shutdownTimeoutMs for open connections, then close them. */
  stop(): Promise<void>;
}

type EndReason = 'closed' | 'idle-timeout' | 'client-error' | 'target-error' | 'connect-timeout';

/** Starts the relay; resolves once it listens. */
export function startRelay(config: RelayConfig, logger: Logger): Promise<RunningRelay> {
  const sockets = new Set<net.Socket>();
  let active = 0;
  let stopping = false;

  const server = net.createServer({allowHalfOpen: true, pauseOnConnect: true}, client => {
    const peer = {peerAddress: client.remoteAddress, peerPort: client.remotePort};
    if (stopping || active >= config.maxConnections) {
      audit(logger, {
        event: 'relay.connection',
        decision: 'deny',
        code: 'RELAY_CONNECTION_LIMIT',
        ...peer,
        active,
        limit: config.maxConnections,
        reason: stopping ? 'shutting-down' : 'limit',
      });
      client.destroy();
      return;
    }
    active++;
    const started = Date.now();
    const target = net.connect({host: config.target.host, port: config.target.port, allowHalfOpen: true});
    sockets.add(client).add(target);
    let connected = false;
    let done = false;
    const finish = (reason: EndReason, err?: Error) => {
      if (done) return;
      done = true;
      active--;
      clearTimeout(connectTimer);
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
      // denied only when the target could not be reached (a client gone first is not a refusal)
      const failed = !connected && (reason === 'target-error' || reason === 'connect-timeout');
      audit(logger, {
        event: 'relay.connection',
        decision: failed ? 'deny' : 'allow',
        ...(failed ? {code: 'RELAY_TARGET_UNREACHABLE'} : {}),
        connected,
        ...peer,
        target: `${config.target.host}:${config.target.port}`,
        reason,
        error: err ? ((err as NodeJS.ErrnoException).code ?? err.name) : undefined,
        bytesIn: client.bytesRead,
        bytesOut: client.bytesWritten,
        durationMs: Date.now() - started,
      });
    };
    const connectTimer = setTimeout(() => finish('connect-timeout'), config.connectTimeoutMs);
    client.setTimeout(config.idleTimeoutMs, () => finish('idle-timeout'));
    target.setTimeout(config.idleTimeoutMs, () => finish('idle-timeout'));
    client.on('error', e => finish('client-error', e));
    target.on('error', e => finish('target-error', e));
    // pipe passes each half-close on; the client socket closes once both directions are done
    client.on('close', () => finish('closed'));
    target.on('close', () => {
      if (!connected) finish('target-error');
      else if (!client.writableEnded) client.end();
    });
    target.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      client.pipe(target);
      target.pipe(client);
      client.resume();
    });
  });
  server.maxConnections = config.maxConnections * 2; // hard backstop; the counter above refuses first

  return new Promise((resolve, reject) => {
    server.once('error', e =>
      reject(new AppError('STARTUP_FAILED', `relay cannot listen on ${config.listen.host}:${config.listen.port}`, {}, {cause: e})),
    );
    server.listen({host: config.listen.host, port: config.listen.port}, () => {
      const address = server.address() as net.AddressInfo;
      logger.info(
        {
          event: 'relay.listening',
          listen: `${address.address}:${address.port}`,
          target: `${config.target.host}:${config.target.port}`,
          maxConnections: config.maxConnections,
          idleTimeoutMs: config.idleTimeoutMs,
        },
        'relaying',
      );
      resolve({
        address,
        active: () => active,
        stop: () =>
          new Promise<void>(done => {
            stopping = true;
            const force = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, config.shutdownTimeoutMs);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              done();
            });
          }),
      });
    });
  });
}

/** LISTEN (state 0A) sockets' local ports in /proc/net/tcp and /proc/net/tcp6. */
export function listeningPorts(procNet = '/proc/net'): Set<number> {
  const ports = new Set<number>();
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`${procNet}/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue;
      const port = parseInt(cols[1].split(':').pop() ?? '', 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return ports;
}

export async function main(argv = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const bootLogger = createLogger({level: env.LOG_LEVEL ?? 'info', name: 'tcp-relay'});
  let config: RelayConfig;
  try {
    config = parseRelayConfig(env);
  } catch (e) {
    const err = toAppError(e, 'CONFIG_INVALID');
    bootLogger.fatal({code: err.code, details: err.details}, `refusing to start: ${err.message}`);
    process.exitCode = err.exitCode;
    return;
  }
  if (argv[0] === '--health') {
    process.exitCode = listeningPorts().has(config.listen.port) ? 0 : 1;
    return;
  }
  if (argv.length > 0) {
    bootLogger.fatal({code: 'CONFIG_INVALID', argCount: argv.length}, 'unknown argument (only --health)');
    process.exitCode = 78;
    return;
  }
  const logger = createLogger({level: config.logLevel, name: 'tcp-relay'});
  let relay: RunningRelay;
  try {
    relay = await startRelay(config, logger);
  } catch (e) {
    const err = toAppError(e, 'STARTUP_FAILED');
    logger.fatal({code: err.code, err: (err.cause as Error | undefined)?.message}, `refusing to start: ${err.message}`);
    process.exitCode = err.exitCode;
    return;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({event: 'shutdown', signal, active: relay.active(), boundMs: config.shutdownTimeoutMs}, 'relay stopping');
    void relay.stop().then(() => {
      logger.info({event: 'shutdown.complete'}, 'relay stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  void main();
}
