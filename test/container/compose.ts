/**
 * docker-compose.yml as data: load (YAML), interpolate `${VAR}` / `${VAR:-default}` /
 * `${VAR:?error}` the way Compose does, and translate one service into the `podman run` flags it
 * declares. The container tier runs the image with exactly these flags; the static policy tests
 * use the same loader. The translation refuses (throws on) any service key it does not know, so
 * a new compose setting cannot be silently dropped from the container tier.
 *
 * Deliberate, documented differences from `docker compose up` (podman has no equivalent or the
 * test needs isolation):
 *  - each network in `networks:` is mapped to a network the test created with the same property
 *    (`internal: true` -> `podman network create --internal`; TranslateOptions.networks; every
 *    declared network must be mapped), and the service name becomes the container's network
 *    alias (compose's service discovery); or, for single-container tests, all networks are
 *    replaced by one test `--internal` network (TranslateOptions.network);
 *  - the published host port is replaced by a free one;
 *  - `logging.options.max-file` is not passed (podman's k8s-file driver has no rotation count);
 *  - `--read-only-tmpfs=false` is added with `--read-only`: podman would otherwise mount
 *    writable, exec-able tmpfs on /run, /var/tmp, ... where Docker's read_only mounts none.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

export type Vars = Readonly<Record<string, string | undefined>>;

/** Compose variable interpolation ($$ escapes a dollar). Throws on `${VAR:?msg}` when unset/empty. */
export function interpolate(text: string, vars: Vars): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, name?: string, op?: string, arg?: string, bare?: string) => {
      if (m === '$$') return '$';
      const n = (name ?? bare)!;
      const v = vars[n];
      if (op === undefined) return v ?? '';
      const unsetOrEmpty = v === undefined || (op.startsWith(':') && v === '');
      if (op.endsWith('-')) return unsetOrEmpty ? (arg ?? '') : v!;
      if (unsetOrEmpty) throw new Error(`compose variable ${n}: ${arg || 'required'}`);
      return v!;
    },
  );
}

export interface ComposeDoc {
  name?: string;
  services: Record<string, Record<string, unknown>>;
  networks?: Record<string, Record<string, unknown> | null>;
  [k: string]: unknown;
}

/** The file parsed as written (no interpolation): what the schema and the policy tests check. */
export function loadComposeRaw(file = COMPOSE_FILE): ComposeDoc {
  return YAML.parse(fs.readFileSync(file, 'utf8')) as ComposeDoc;
}

/** The file with variables interpolated, as `docker compose config` would see it. */
export function loadCompose(vars: Vars, file = COMPOSE_FILE): ComposeDoc {
  return YAML.parse(interpolate(fs.readFileSync(file, 'utf8'), vars)) as ComposeDoc;
}

export interface TranslateOptions {
  /** The one network to attach to instead of the declared ones (the test's `--internal` network). */
  network?: string;
  /**
   * Compose network name -> the test's podman network standing for it (created with the same
   * `internal` setting). When given, the service joins exactly the mapped counterparts of its
   * declared networks (an unmapped one throws), with `alias` as its network alias.
   */
  networks?: Readonly<Record<string, string>>;
  /** The service's name on its networks (compose: the service key). */
  alias?: string;
  /** Container name. */
  name: string;
  /** Maps the declared host port to the one to use (default: unchanged). */
  hostPort?: (declared: number) => number;
  /** Base directory for relative bind sources (default: the repository root). */
  baseDir?: string;
}

// `command` is not a flag: podmanCommand() gives it (it follows the image on the command line).
const IGNORED_KEYS = new Set(['build', 'image', 'networks', 'profiles', 'depends_on', 'container_name', 'command']);

/** The networks a service declares (list or map form). */
export function serviceNetworks(service: Record<string, unknown>): string[] {
  const n = service.networks;
  if (n === undefined || n === null) return [];
  return Array.isArray(n) ? n.map(x => asString(x, 'networks')) : Object.keys(n as Record<string, unknown>);
}

/** The service's `command` as arguments after the image (empty: the image's CMD). */
export function podmanCommand(service: Record<string, unknown>): string[] {
  const c = service.command;
  if (c === undefined || c === null) return [];
  if (!Array.isArray(c)) throw new Error('command: only the exec (list) form is translated');
  return c.map(x => asString(x, 'command'));
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

function asString(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`${what}: expected a scalar`);
}

function seconds(duration: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g;
  let m: RegExpExecArray | null;
  let matched = '';
  while ((m = re.exec(duration)) !== null) {
    matched += m[0];
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : m[2] === 'ms' ? n / 1000 : n / 1e6;
  }
  if (matched !== duration) throw new Error(`unsupported duration ${duration}`);
  return Math.ceil(total);
}

/**
 * `podman run` flags for one compose service (without the image and command).
 * Throws on any key it does not translate.
 */
export function podmanRunArgs(service: Record<string, unknown>, o: TranslateOptions): string[] {
  const args: string[] = ['--name', o.name];
  if (o.networks) {
    const declared = serviceNetworks(service);
    if (declared.length === 0) throw new Error('networks: the service declares none (it would join the default bridge)');
    for (const n of declared) {
      const mapped = o.networks[n];
      if (!mapped) throw new Error(`networks: ${n} is not mapped to a test network`);
      const settings = Array.isArray(service.networks)
        ? undefined
        : ((service.networks as Record<string, Record<string, unknown> | null>)[n] ?? undefined);
      for (const k of Object.keys(settings ?? {})) if (k !== 'ipv4_address') throw new Error(`networks.${n}.${k} is not translated to podman flags`);
      args.push('--network', settings?.ipv4_address ? `${mapped}:ip=${asString(settings.ipv4_address, 'ipv4_address')}` : mapped);
    }
    if (o.alias) args.push('--network-alias', o.alias);
  } else if (o.network) {
    args.push('--network', o.network);
  } else {
    throw new Error('podmanRunArgs: give network or networks');
  }
  const base = o.baseDir ?? REPO_ROOT;
  for (const [key, value] of Object.entries(service)) {
    if (IGNORED_KEYS.has(key)) continue;
    switch (key) {
      case 'read_only':
        if (value === true || value === 'true') args.push('--read-only', '--read-only-tmpfs=false');
        break;
      case 'user':
        args.push('--user', asString(value, key));
        break;
      case 'cap_drop':
        for (const c of list(value)) args.push('--cap-drop', asString(c, key));
        break;
      case 'cap_add':
        for (const c of list(value)) args.push('--cap-add', asString(c, key));
        break;
      case 'security_opt':
        for (const s of list(value)) {
          const opt = asString(s, key);
          // a seccomp profile path is relative to the project directory (where compose runs)
          const m = /^seccomp[=:](.+)$/.exec(opt);
          args.push('--security-opt', m && m[1] !== 'unconfined' && m[1] !== 'builtin' ? `seccomp=${path.resolve(base, m[1])}` : opt);
        }
        break;
      case 'init':
        if (value === true || value === 'true') args.push('--init');
        break;
      case 'tmpfs':
        for (const t of list(value)) args.push('--tmpfs', asString(t, key));
        break;
      case 'pids_limit':
        args.push('--pids-limit', asString(value, key));
        break;
      case 'mem_limit':
        args.push('--memory', asString(value, key));
        break;
      case 'memswap_limit':
        args.push('--memory-swap', asString(value, key));
        break;
      case 'cpus':
        args.push('--cpus', asString(value, key));
        break;
      case 'ulimits':
        for (const [name, lim] of Object.entries(value as Record<string, unknown>)) {
          if (typeof lim === 'object' && lim !== null) {
            const l = lim as {soft: unknown; hard: unknown};
            args.push('--ulimit', `${name}=${asString(l.soft, key)}:${asString(l.hard, key)}`);
          } else {
            args.push('--ulimit', `${name}=${asString(lim, key)}`);
          }
        }
        break;
      case 'ipc':
        args.push('--ipc', asString(value, key));
        break;
      case 'pid':
        args.push('--pid', asString(value, key));
        break;
      case 'network_mode':
        args.push('--network', asString(value, key));
        break;
      case 'privileged':
        if (value === true || value === 'true') args.push('--privileged');
        break;
      case 'devices':
        for (const d of list(value)) args.push('--device', asString(d, key));
        break;
      case 'environment': {
        const entries: [string, string][] = Array.isArray(value)
          ? (value as unknown[]).map(e => {
              const s = asString(e, key);
              const i = s.indexOf('=');
              return i < 0 ? ([s, ''] as [string, string]) : ([s.slice(0, i), s.slice(i + 1)] as [string, string]);
            })
          : Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, v === null ? '' : asString(v, key)] as [string, string]);
        for (const [k, v] of entries) args.push('--env', `${k}=${v}`);
        break;
      }
      case 'volumes':
        for (const v of list(value)) {
          if (typeof v === 'string') {
            const [src, dst, mode] = v.split(':');
            args.push('--volume', `${path.resolve(base, src)}:${dst}${mode ? `:${mode}` : ''}`);
          } else {
            const vol = v as {type?: string; source?: string; target?: string; read_only?: boolean};
            if (vol.type !== 'bind' || !vol.source || !vol.target) throw new Error('volumes: only bind mounts with source and target are translated');
            args.push('--volume', `${path.resolve(base, vol.source)}:${vol.target}:${vol.read_only ? 'ro' : 'rw'}`);
          }
        }
        break;
      case 'ports':
        for (const p of list(value)) {
          const s = asString(p, key);
          const m = /^(?:([\d.]+|\[[0-9a-f:]+\]):)?(\d+):(\d+)(\/(tcp|udp))?$/i.exec(s);
          if (!m) throw new Error(`ports: unsupported ${s}`);
          const hostPort = o.hostPort ? o.hostPort(Number(m[2])) : Number(m[2]);
          args.push('--publish', `${m[1] ? `${m[1]}:` : ''}${hostPort}:${m[3]}${m[4] ?? ''}`);
        }
        break;
      case 'healthcheck': {
        const h = value as {test?: unknown; interval?: string; timeout?: string; retries?: number; start_period?: string; disable?: boolean};
        if (h.disable) {
          args.push('--no-healthcheck');
          break;
        }
        const test = list(h.test).map(x => asString(x, key));
        if (test[0] === 'CMD') args.push('--health-cmd', JSON.stringify(test.slice(1)));
        else if (test[0] === 'CMD-SHELL') args.push('--health-cmd', test.slice(1).join(' '));
        else throw new Error('healthcheck.test must start with CMD or CMD-SHELL');
        if (h.interval) args.push('--health-interval', h.interval);
        if (h.timeout) args.push('--health-timeout', h.timeout);
        if (h.retries !== undefined) args.push('--health-retries', String(h.retries));
        if (h.start_period) args.push('--health-start-period', h.start_period);
        break;
      }
      case 'restart':
        args.push('--restart', asString(value, key));
        break;
      case 'stop_grace_period':
        args.push('--stop-timeout', String(seconds(asString(value, key))));
        break;
      case 'logging': {
        const l = value as {driver?: string; options?: Record<string, unknown>};
        if (l.driver) args.push('--log-driver', l.driver);
        for (const [k, v] of Object.entries(l.options ?? {})) {
          if (k === 'max-file') continue; // podman's k8s-file driver has no rotation count
          args.push('--log-opt', `${k}=${asString(v, key)}`);
        }
        break;
      }
      case 'entrypoint': {
        const e = list(value).map(x => asString(x, key));
        args.push('--entrypoint', JSON.stringify(e));
        break;
      }
      default:
        throw new Error(`compose key ${key} is not translated to podman flags`);
    }
  }
  return args;
}
