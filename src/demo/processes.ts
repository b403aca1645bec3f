/**
 * Child processes of the demo: the commands it shows (curl, openssl, node CLIs) and the service
 * itself (`node dist/src/index.js`). Every child is tracked and ended by its own handle; nothing
 * is killed by name.
 */
import {ChildProcess, spawn} from 'node:child_process';
import {once} from 'node:events';
import path from 'node:path';

/** Project root as seen from the compiled dist/src/demo/*.js. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');
export const SERVICE_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'index.js');

export interface CommandResult {
  /** null when the process was ended by a signal (e.g. the time bound). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The binary could not be started (e.g. ENOENT). */
  spawnError?: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Bytes written to stdin, then stdin is closed ('' = an empty stdin, like </dev/null). */
  stdin?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Hard bound; the child gets SIGKILL after it. */
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();

/** Run a binary with argv (no shell) and collect its output. Never rejects. */
export function runCommand(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise(resolve => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let child: ChildProcess;
    try {
      child = spawn(argv[0], argv.slice(1), {cwd: opts.cwd ?? PROJECT_ROOT, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe']});
    } catch (e) {
      resolve({exitCode: null, signal: null, stdout, stderr, spawnError: (e as Error).message, timedOut});
      return;
    }
    running.add(child);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin!.on('error', () => undefined); // the child may exit before reading stdin
    child.stdin!.end(opts.stdin ?? '');
    let spawnError: string | undefined;
    child.on('error', e => {
      spawnError = e.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({exitCode: code, signal, stdout, stderr, timedOut, ...(spawnError !== undefined ? {spawnError} : {})});
    });
  });
}

/** End every command still running (used on interrupt). */
export function killRunningCommands(): void {
  for (const c of running) c.kill('SIGKILL');
}

export interface LogLine {
  level?: string;
  msg?: string;
  event?: string;
  decision?: string;
  code?: string;
  [k: string]: unknown;
}

/** The service as a child process: `node dist/src/index.js` with a given environment. */
export class ServiceProcess {
  readonly logs: LogLine[] = [];
  readonly output: string[] = [];
  url = '';
  port = 0;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private listeners = new Set<() => void>();

  private constructor(
    readonly name: string,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [SERVICE_ENTRY], {cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe']});
    this.exited = once(this.child, 'exit').then(() => undefined);
    let buf = '';
    const onLine = (line: string) => {
      this.output.push(line);
      if (line.startsWith('{')) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          /* not a JSON log line */
        }
      }
      for (const l of this.listeners) l();
    };
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const l of chunk.split('\n')) if (l !== '') onLine(`[stderr] ${l}`);
    });
    this.child.on('exit', () => {
      for (const l of this.listeners) l();
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start and wait for the `listening` log line (rejects when the service exits or the bound passes). */
  static async start(name: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ServiceProcess> {
    const svc = new ServiceProcess(name, env);
    try {
      const line = await svc.waitForLog(l => l.event === 'listening', 0, timeoutMs);
      svc.url = String(line.url);
      svc.port = Number(new URL(svc.url).port);
      return svc;
    } catch (e) {
      await svc.stop();
      throw e;
    }
  }

  /** First log line at index >= `from` matching `pred`; rejects after `timeoutMs` or when the service exits. */
  waitForLog(pred: (l: LogLine) => boolean, from: number, timeoutMs: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.logs.length; i++) {
          if (pred(this.logs[i])) {
            cleanup();
            resolve(this.logs[i]);
            return;
          }
        }
        if (!this.running) {
          cleanup();
          reject(new Error(`${this.name} service exited; last output:\n${this.output.slice(-15).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} service: expected log line not seen within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** SIGTERM, SIGKILL after `timeoutMs`; resolves when the process has exited. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  /** Immediate SIGKILL (interrupt path). */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
