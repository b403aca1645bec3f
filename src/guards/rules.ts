/**
 * The request-guard rule catalog, as data. Every rule has a stable id (it appears in the audit
 * line of a rejection), a one-line description, the rationale (why a caller of this service has
 * no business sending it) and a declarative matcher. `request-policy.ts` interprets the matchers;
 * nothing in here executes.
 *
 * Matching model (see normalize.ts for how inputs are turned into segments):
 * - Inputs are decoded (percent, overlong UTF-8, %u, NFKC, confusables), lower-cased, split into
 *   path segments (`/` and `\` separate; `;params` dropped; empty and `.` segments dropped).
 * - `segments` matchers compare consecutive segments against the listed patterns (each a
 *   case-insensitive regular expression source anchored to the whole segment).
 *   `anchor: 'root'` rules only fire on absolute paths (the request path, an absolute path value,
 *   the path of a `file:` URL) and only at the first segment after dot-segment resolution;
 *   `anchor: 'anywhere'` rules fire at any position of any path-like value.
 *   `scope: 'target'` restricts a rule to the request path itself (short, generic names such as
 *   `/version` are Docker API endpoints there, but ordinary words inside a JSON document).
 * - `traversal` matchers look at the shape of the path (dot-dot segments).
 * - `url-scheme` / `url-host` matchers apply to URL-looking values (`scheme:` prefix).
 * - `json-key` matchers apply to object keys in JSON bodies (case-sensitive, exact).
 *
 * Over-blocking is a defect too: patterns are whole-segment matches, so `/products/procurement`,
 * "docker tutorial", "process" or `/developers/devices` never match (`proc` must be a whole
 * segment, `/dev` must be the first segment of an absolute path, and so on).
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import {METADATA_ADDRESSES, METADATA_HOST_NAMES} from '../outbound/metadata';

export type RuleCategory =
  'runtime-socket' | 'docker-api' | 'kubernetes-api' | 'host-path' | 'path-traversal' | 'cloud-metadata' | 'container-payload';

export interface SegmentsMatcher {
  readonly kind: 'segments';
  readonly anchor: 'root' | 'anywhere';
  /** Regular-expression sources, one per consecutive segment (lower case; anchored ^…$). */
  readonly segments: readonly string[];
  /** The path must end right after the listed segments. */
  readonly exact?: boolean;
  /** 'target' = the request path only; 'all' = also query, header and body values. */
  readonly scope: 'target' | 'all';
}

export interface TraversalMatcher {
  readonly kind: 'traversal';
  /**
   * dot-dot-in-target: any `..` segment in the (decoded) request path;
   * escapes-start: a `..` that climbs above the start of a path-like value;
   * dots-only-segment: a segment made only of three or more dots in a path-like value
   *   (survivors of strip-once filters such as `..././` and `....//`).
   */
  readonly mode: 'dot-dot-in-target' | 'escapes-start' | 'dots-only-segment';
}

export interface UrlSchemeMatcher {
  readonly kind: 'url-scheme';
  readonly schemes: readonly string[];
}

export interface UrlHostMatcher {
  readonly kind: 'url-host';
  /** Exact host names (lower case, no trailing dot). */
  readonly names: readonly string[];
  /** IP addresses (compared after canonicalisation, including IPv4-mapped/NAT64/6to4 forms). */
  readonly addresses: readonly string[];
  /** CIDR blocks (link-local: every cloud's metadata endpoint lives there). */
  readonly cidrs: readonly string[];
  /** Label sequences that embed a metadata address in a name (e.g. 169.254.169.254.nip.io). */
  readonly embeddedLabels: readonly string[];
}

export interface JsonKeyMatcher {
  readonly kind: 'json-key';
  /** Exact, case-sensitive object keys. */
  readonly keys: readonly string[];
}

export type RuleMatcher = SegmentsMatcher | TraversalMatcher | UrlSchemeMatcher | UrlHostMatcher | JsonKeyMatcher;

export interface GuardRule {
  readonly id: string;
  readonly category: RuleCategory;
  readonly description: string;
  readonly rationale: string;
  readonly match: RuleMatcher;
}

// Cloud metadata endpoints: defined with the outbound client's address policy (a lower layer),
// used here by rule MD-METADATA-HOST.
export {METADATA_ADDRESSES, METADATA_HOST_NAMES};

const SEG = {
  socketFile: String.raw`.*\.sock(?:[.:].*)?`,
  dockerVersion: String.raw`v1\.\d{1,3}`,
  k8sCoreResources:
    '(?:namespaces|nodes|pods|secrets|serviceaccounts|configmaps|services|endpoints|persistentvolumes|' +
    'persistentvolumeclaims|events|componentstatuses|bindings|limitranges|podtemplates|replicationcontrollers|resourcequotas)',
  procEntries: String.raw`(?:self|thread-self|\d+|sys|sysrq-trigger|kcore|kmsg|kallsyms|mounts|mountinfo|cmdline|environ|net|fs|keys)`,
  sysEntries: '(?:fs|kernel|class|devices|block|bus|firmware|module|power)',
  devEntries:
    String.raw`(?:mem|kmem|port|sd[a-z]\d*|hd[a-z]\d*|vd[a-z]\d*|xvd[a-z]\d*|nvme\d.*|disk|mapper|loop\d*|dm-\d+|kmsg|fuse|` +
    String.raw`tty\w*|console|cpu|raw|shm|mqueue|net|vsock|kvm|vhost-\w+)`,
  etcSecrets:
    String.raw`(?:shadow|gshadow|passwd|group|sudoers(?:\.d)?|kubernetes|docker|containerd|crio|cni|ssh|ssl|pki|machine-id|` +
    String.raw`hosts|hostname|resolv\.conf|crontab|cron\.d|security|environment|profile|systemd|rancher|k3s)`,
  varLibState: '(?:kubelet|docker|containerd|containers|cni|etcd|rancher|k0s)',
} as const;

export const GUARD_RULES: readonly GuardRule[] = [
  // --- runtime sockets ---------------------------------------------------------------------
  {
    id: 'RS-SOCKET-FILE',
    category: 'runtime-socket',
    description: 'A *.sock path segment (docker.sock, containerd.sock(.ttrpc), crio.sock, podman.sock, cri-dockerd.sock, ...).',
    rationale: 'A container runtime socket is root on the host; no request to this service names one.',
    match: {kind: 'segments', anchor: 'anywhere', segments: [SEG.socketFile], scope: 'all'},
  },
  {
    id: 'RS-NAMED-PIPE',
    category: 'runtime-socket',
    description: 'The Docker Engine named pipe (//./pipe/docker_engine).',
    rationale: 'The Windows equivalent of docker.sock.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['docker_engine'], scope: 'all'},
  },
  {
    id: 'RS-ENDPOINT-SCHEME',
    category: 'runtime-socket',
    description: 'A runtime endpoint URL (unix:, npipe:, http+unix:, docker:, ...).',
    rationale: 'These schemes address local sockets or the Docker daemon, never a public resource.',
    match: {kind: 'url-scheme', schemes: ['unix', 'npipe', 'http+unix', 'https+unix', 'unix+http', 'docker', 'ttrpc', 'fd']},
  },

  // --- Docker Engine API ---------------------------------------------------------------------
  {
    id: 'DK-VERSIONED-API',
    category: 'docker-api',
    description: 'A versioned Docker Engine API path (/v1.NN/...).',
    rationale: 'Docker Engine API prefix; a request or value naming it is an attempt to drive the daemon.',
    match: {kind: 'segments', anchor: 'root', segments: [SEG.dockerVersion], scope: 'all'},
  },
  {
    id: 'DK-CONTAINERS',
    category: 'docker-api',
    description: '/containers/... (list, create, inspect, exec, archive, attach).',
    rationale: 'Docker Engine container endpoints.',
    match: {kind: 'segments', anchor: 'root', segments: ['containers', '.+'], scope: 'all'},
  },
  {
    id: 'DK-EXEC',
    category: 'docker-api',
    description: '/exec/... (Docker exec instances; kubelet exec).',
    rationale: 'Command execution inside containers.',
    match: {kind: 'segments', anchor: 'root', segments: ['exec', '.+'], scope: 'all'},
  },
  {
    id: 'DK-IMAGES',
    category: 'docker-api',
    description: '/images/{json,create,load,get,search,prune,build}.',
    rationale: 'Docker Engine image endpoints (pulling an attacker image is the first step of an escape).',
    match: {kind: 'segments', anchor: 'root', segments: ['images', '(?:json|create|load|get|search|prune|build)'], scope: 'all'},
  },
  {
    id: 'DK-IMAGE-OPS',
    category: 'docker-api',
    description: '/images/{name}/{json,history,push,tag,get}.',
    rationale: 'Docker Engine per-image endpoints.',
    match: {kind: 'segments', anchor: 'root', segments: ['images', '.+', '(?:json|history|push|tag|get)'], scope: 'all'},
  },
  {
    id: 'DK-PING',
    category: 'docker-api',
    description: 'The Docker Engine /_ping endpoint.',
    rationale: 'Docker Engine liveness probe, used to discover an exposed daemon.',
    match: {kind: 'segments', anchor: 'root', segments: ['_ping'], scope: 'all'},
  },
  {
    id: 'DK-SYSTEM',
    category: 'docker-api',
    description: 'The request path is exactly /version, /info or /events.',
    rationale: 'Docker Engine system endpoints (daemon discovery). Request path only: as words in a document they are harmless.',
    match: {kind: 'segments', anchor: 'root', segments: ['(?:version|info|events)'], exact: true, scope: 'target'},
  },
  {
    id: 'DK-SYSTEM-DF',
    category: 'docker-api',
    description: 'The Docker Engine /system/df endpoint.',
    rationale: 'Docker Engine disk-usage endpoint.',
    match: {kind: 'segments', anchor: 'root', segments: ['system', 'df'], scope: 'all'},
  },
  {
    id: 'DK-SWARM',
    category: 'docker-api',
    description: 'The Docker Swarm /swarm endpoints.',
    rationale: 'Docker Swarm control endpoints.',
    match: {kind: 'segments', anchor: 'root', segments: ['swarm'], scope: 'all'},
  },
  {
    id: 'DK-OBJECT-MGMT',
    category: 'docker-api',
    description: '/{volumes,networks,secrets,configs,services,plugins,nodes,tasks}/{create,prune,pull,privileges,upgrade,update}.',
    rationale: 'Docker Engine object management.',
    match: {
      kind: 'segments',
      anchor: 'root',
      segments: ['(?:volumes|networks|secrets|configs|services|plugins|nodes|tasks)', '(?:create|prune|pull|privileges|upgrade|update)'],
      scope: 'all',
    },
  },

  // --- Kubernetes API, kubelet, etcd -----------------------------------------------------------
  {
    id: 'K8-CORE-API',
    category: 'kubernetes-api',
    description: '/api/v1/{namespaces,nodes,pods,secrets,...}.',
    rationale: 'Kubernetes core API resources (generic /api/v1/<app resource> paths are not matched).',
    match: {kind: 'segments', anchor: 'root', segments: ['api', 'v1', SEG.k8sCoreResources], scope: 'all'},
  },
  {
    id: 'K8-API-GROUPS',
    category: 'kubernetes-api',
    description: '/apis and /apis/...',
    rationale: 'Kubernetes API groups (RBAC, apps, ...).',
    match: {kind: 'segments', anchor: 'root', segments: ['apis'], scope: 'all'},
  },
  {
    id: 'K8-KUBELET',
    category: 'kubernetes-api',
    description: 'Kubelet endpoints: /pods, /runningpods, /attach, /portForward, /containerLogs, /checkpoint, /cri, /configz.',
    rationale: 'The kubelet API lists and controls every pod on the node.',
    match: {
      kind: 'segments',
      anchor: 'root',
      segments: ['(?:pods|runningpods|attach|portforward|containerlogs|checkpoint|cri|configz)'],
      scope: 'all',
    },
  },
  {
    id: 'K8-KUBELET-RUN',
    category: 'kubernetes-api',
    description: '/run/... (kubelet run endpoint; also the host runtime directory).',
    rationale: 'Kubelet command execution, and /run holds runtime sockets and mounted secrets.',
    match: {kind: 'segments', anchor: 'root', segments: ['run', '.+'], scope: 'all'},
  },
  {
    id: 'K8-SERVICEACCOUNT',
    category: 'kubernetes-api',
    description: 'A service-account credential path (.../serviceaccount/{token,ca.crt,namespace}).',
    rationale: 'The pod service-account token authenticates to the Kubernetes API.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['serviceaccount', String.raw`(?:token|ca\.crt|namespace)`], scope: 'all'},
  },
  {
    id: 'K8-SERVICEACCOUNT-DIR',
    category: 'kubernetes-api',
    description: 'kubernetes.io/serviceaccount.',
    rationale: 'The mounted service-account directory.',
    match: {kind: 'segments', anchor: 'anywhere', segments: [String.raw`kubernetes\.io`, 'serviceaccount'], scope: 'all'},
  },
  {
    id: 'K8-ETCD-KEYS',
    category: 'kubernetes-api',
    description: '/v2/keys and /v3/kv (etcd).',
    rationale: 'etcd holds every Kubernetes secret in clear.',
    match: {kind: 'segments', anchor: 'root', segments: ['v[23]', '(?:keys|kv)'], scope: 'all'},
  },

  // --- host paths --------------------------------------------------------------------------------
  {
    id: 'HP-PROC',
    category: 'host-path',
    description: 'An absolute path under /proc.',
    rationale: 'procfs exposes environment (secrets), memory maps, the root of other processes and kernel knobs.',
    match: {kind: 'segments', anchor: 'root', segments: ['proc'], scope: 'all'},
  },
  {
    id: 'HP-PROC-EMBEDDED',
    category: 'host-path',
    description: 'proc/{self,<pid>,sys,...} anywhere in a path (e.g. /host/proc/1/root).',
    rationale: 'procfs reached through a host mount or a relative path.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['proc', SEG.procEntries], scope: 'all'},
  },
  {
    id: 'HP-SYS',
    category: 'host-path',
    description: 'An absolute path under /sys.',
    rationale: 'sysfs holds cgroup release_agent and kernel knobs (classic container escapes).',
    match: {kind: 'segments', anchor: 'root', segments: ['sys'], scope: 'all'},
  },
  {
    id: 'HP-SYS-EMBEDDED',
    category: 'host-path',
    description: 'sys/{fs,kernel,class,devices,...} anywhere in a path.',
    rationale: 'sysfs reached through a host mount or a relative path.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['sys', SEG.sysEntries], scope: 'all'},
  },
  {
    id: 'HP-KERNEL-KNOB',
    category: 'host-path',
    description: 'release_agent, notify_on_release, core_pattern, sysrq-trigger, uevent_helper.',
    rationale: 'Kernel hooks that execute a host binary: the textbook cgroup-v1 and core_pattern escapes.',
    match: {
      kind: 'segments',
      anchor: 'anywhere',
      segments: ['(?:release_agent|notify_on_release|core_pattern|sysrq-trigger|uevent_helper)'],
      scope: 'all',
    },
  },
  {
    id: 'HP-DEV',
    category: 'host-path',
    description: 'An absolute path under /dev.',
    rationale: 'Device nodes (block devices, /dev/mem) give raw access to host storage and memory.',
    match: {kind: 'segments', anchor: 'root', segments: ['dev'], scope: 'all'},
  },
  {
    id: 'HP-DEV-EMBEDDED',
    category: 'host-path',
    description: 'dev/{mem,kmem,sdX,nvme*,mapper,...} anywhere in a path.',
    rationale: 'Device nodes reached through a host mount or a relative path.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['dev', SEG.devEntries], scope: 'all'},
  },
  {
    id: 'HP-ETC',
    category: 'host-path',
    description: 'An absolute path under /etc.',
    rationale: 'System configuration and credentials (shadow, kubernetes admin.conf, ssh keys).',
    match: {kind: 'segments', anchor: 'root', segments: ['etc'], scope: 'all'},
  },
  {
    id: 'HP-ETC-SECRETS',
    category: 'host-path',
    description: 'etc/{shadow,passwd,kubernetes,ssh,...} anywhere in a path (e.g. /host/etc/shadow).',
    rationale: 'Credentials reached through a host mount or a relative path.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['etc', SEG.etcSecrets], scope: 'all'},
  },
  {
    id: 'HP-ROOT-HOME',
    category: 'host-path',
    description: 'An absolute path under /root.',
    rationale: "The superuser's home directory (credentials, shell history).",
    match: {kind: 'segments', anchor: 'root', segments: ['root'], scope: 'all'},
  },
  {
    id: 'HP-CREDENTIAL-DIR',
    category: 'host-path',
    description: 'A .docker, .kube, .ssh, .aws, .azure or .gnupg directory anywhere in a path (~/.docker, /home/x/.kube).',
    rationale: 'Registry, cluster and cloud credentials.',
    match: {kind: 'segments', anchor: 'anywhere', segments: [String.raw`\.(?:docker|kube|ssh|aws|azure|gnupg)`], scope: 'all'},
  },
  {
    id: 'HP-RUNTIME-STATE',
    category: 'host-path',
    description: 'var/lib/{kubelet,docker,containerd,containers,cni,etcd,...} anywhere in a path.',
    rationale: 'Runtime and kubelet state: pod volumes, secrets, image layers.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['var', 'lib', SEG.varLibState], scope: 'all'},
  },
  {
    id: 'HP-RUNTIME-RUN',
    category: 'host-path',
    description: 'var/run/{docker,containerd,crio,podman} anywhere in a path.',
    rationale: 'Runtime state directories holding the control sockets.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['var', 'run', '(?:docker|containerd|crio|podman|cri-dockerd)'], scope: 'all'},
  },
  {
    id: 'HP-MOUNTED-SECRETS',
    category: 'host-path',
    description: 'run/secrets anywhere in a path (/run/secrets, /var/run/secrets).',
    rationale: 'Kubernetes and Docker mount secrets there.',
    match: {kind: 'segments', anchor: 'anywhere', segments: ['run', 'secrets'], scope: 'all'},
  },

  // --- path traversal ----------------------------------------------------------------------------
  {
    id: 'PT-DOTDOT-TARGET',
    category: 'path-traversal',
    description: 'A `..` segment in the decoded request path.',
    rationale: 'Conforming clients resolve dot segments before sending; an (encoded) dot-dot that survives is a traversal attempt.',
    match: {kind: 'traversal', mode: 'dot-dot-in-target'},
  },
  {
    id: 'PT-ESCAPE',
    category: 'path-traversal',
    description: 'A path-like value whose `..` segments climb above its start.',
    rationale: 'Escaping the directory a value is resolved against is the definition of path traversal.',
    match: {kind: 'traversal', mode: 'escapes-start'},
  },
  {
    id: 'PT-DOTS-SEGMENT',
    category: 'path-traversal',
    description: 'A segment made only of three or more dots in a path-like value (..././, ....//).',
    rationale: 'What strip-once traversal filters turn back into `..`.',
    match: {kind: 'traversal', mode: 'dots-only-segment'},
  },

  // --- cloud metadata ----------------------------------------------------------------------------
  {
    id: 'MD-METADATA-HOST',
    category: 'cloud-metadata',
    description: 'A URL-looking value whose host is a cloud metadata address or name, or any link-local address.',
    rationale: 'Metadata services hand out instance credentials to anything that can reach them.',
    match: {
      kind: 'url-host',
      names: METADATA_HOST_NAMES,
      addresses: METADATA_ADDRESSES,
      cidrs: ['169.254.0.0/16', 'fe80::/10'],
      embeddedLabels: ['169.254.169.254', 'a9fea9fe', '169-254-169-254', '169.254.170.2', '100.100.100.200'],
    },
  },

  // --- container-management payloads -------------------------------------------------------------
  {
    id: 'CP-DOCKER-ENGINE-KEYS',
    category: 'container-payload',
    description: 'JSON keys of a Docker Engine container-create/exec body (HostConfig, Binds, Privileged, CapAdd, Attach*, ...).',
    rationale: 'Only a Docker Engine client sends these; relaying them reaches a daemon with host privileges.',
    match: {
      kind: 'json-key',
      keys: [
        'HostConfig',
        'Binds',
        'Privileged',
        'CapAdd',
        'PidMode',
        'IpcMode',
        'UsernsMode',
        'SecurityOpt',
        'CgroupParent',
        'AttachStdin',
        'AttachStdout',
        'AttachStderr',
      ],
    },
  },
  {
    id: 'CP-K8S-HOST-ACCESS-KEYS',
    category: 'container-payload',
    description: 'JSON keys of a Kubernetes pod spec that grant host access (hostPath, hostPID, hostIPC, hostNetwork).',
    rationale: 'A pod created with these is a host escape by design.',
    match: {kind: 'json-key', keys: ['hostPath', 'hostPID', 'hostIPC', 'hostNetwork']},
  },
];

/** Codes and ids for rejections that are not rules of the catalog (input that cannot be decoded). */
export const MALFORMED_RULE_IDS = {
  'bad-escape': 'MF-BAD-ESCAPE',
  'invalid-utf8': 'MF-INVALID-UTF8',
  'overlong-utf8': 'MF-OVERLONG-UTF8',
  'u-escape': 'MF-U-ESCAPE',
  'lone-surrogate': 'MF-LONE-SURROGATE',
  nul: 'MF-NUL',
  'control-char': 'MF-CONTROL-CHAR',
  'too-deep': 'MF-TOO-DEEP',
  'too-long': 'MF-TOO-LONG',
  'json-syntax': 'MF-JSON-SYNTAX',
  'json-too-deep': 'MF-JSON-TOO-DEEP',
  'json-too-large': 'MF-JSON-TOO-LARGE',
  'duplicate-key': 'MF-DUPLICATE-KEY',
  'prototype-key': 'MF-PROTOTYPE-KEY',
  'bad-target': 'MF-BAD-TARGET',
  'bad-charset': 'MF-BAD-CHARSET',
} as const;
export type MalformedReason = keyof typeof MALFORMED_RULE_IDS;

export function ruleById(id: string): GuardRule | undefined {
  return GUARD_RULES.find(r => r.id === id);
}
