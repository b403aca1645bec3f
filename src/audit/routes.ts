/**
 * Container-management route detection for the OpenAPI audit: policy as data (ROUTE_SHAPES,
 * signal tables) and a pure evaluator (classifyRoute). Not anchored at the root: a shape may sit
 * under any prefix (/libpod, /v1.45, /v4.0.0, /docker/engine, a gateway's /api/...), and the
 * action verb may follow the resource id (/plugins/{name}/upgrade, /networks/{id}/connect).
 *
 * A route is decided from several signals, each with a weight:
 *   shape   strong 4 (only runtimes have it: /containers/{id}/exec, /libpod/..., /api/v1/watch/...)
 *           medium 2 (POST /build, POST /commit, /logs/{id})
 *           weak   1 (look-alikes of ordinary application paths: /containers/{id}, /events, /apis,
 *                     /images/{id}/tag, /run/{id}, /v2/keys), only right after a version-like prefix
 *   params  +1 per runtime-specific parameter name (filters, fromImage, labelSelector, ...), max +2
 *   op      +2 Kubernetes/libpod operationId; +1 Docker-style operationId; +1 Docker/Kubernetes tag
 *   doc     +2 title/description names a runtime (Docker, Moby, Podman, Kubernetes, kubelet, ...)
 *           +2 a server URL / basePath looks like a runtime endpoint (/v1.NN, .sock, :2375, :6443, :10250)
 * A finding needs a score >= 3; confidence is high from 4, medium at 3.
 */

export type Strength = 'strong' | 'medium' | 'weak';
export type Confidence = 'high' | 'medium' | 'low';

export interface RouteShape {
  readonly id: string;
  readonly strength: Strength;
  /** Matched against the normalised path: every `{param}` becomes `{}`; no trailing slash. */
  readonly pattern: RegExp;
  /** Upper-case methods the shape applies to (default: all). */
  readonly methods?: readonly string[];
  /** Only when a path parameter of the matched route has a file-system-path name (logpath, ...). */
  readonly pathParam?: boolean;
}

/** Version-like or gateway prefix segments allowed in front of a weak shape. */
const PREFIX = String.raw`^(?:/(?:v\d[\w.-]*|\d[\w.-]*|api|apis|engine|docker|moby|podman|compat|\{\}))*`;
const weak = (tail: string) => new RegExp(`${PREFIX}(?:${tail})$`);
const anywhere = (tail: string) => new RegExp(`(?:^|/)(?:${tail})(?:/|$)`);
const end = (tail: string) => new RegExp(`(?:^|/)(?:${tail})$`);

const CONTAINER_ACTIONS =
  'json|exec|attach|start|stop|kill|restart|pause|unpause|wait|archive|export|update|rename|resize|changes|top|stats|logs|checkpoint|checkpoints|mount|unmount|init|healthcheck|restore|copy|attach/ws';
const K8S_NS_RESOURCES =
  'pods|secrets|configmaps|serviceaccounts|services|endpoints|persistentvolumeclaims|replicationcontrollers|resourcequotas|limitranges|podtemplates|events';
const K8S_GROUP_RESOURCES =
  'deployments|daemonsets|statefulsets|replicasets|controllerrevisions|jobs|cronjobs|clusterroles|clusterrolebindings|roles|rolebindings|customresourcedefinitions|mutatingwebhookconfigurations|validatingwebhookconfigurations|networkpolicies|podsecuritypolicies|csidrivers|storageclasses|runtimeclasses|leases|ingresses|tokenreviews|subjectaccessreviews|certificatesigningrequests';

export const ROUTE_SHAPES: readonly RouteShape[] = [
  // Podman's libpod API: the segment alone says what the API is.
  {id: 'RT-LIBPOD', strength: 'strong', pattern: anywhere('libpod')},
  // Docker Engine API (and Podman's compat API)
  {id: 'RT-DOCKER-CONTAINER-ACTION', strength: 'strong', pattern: end(`containers/\\{\\}/(?:${CONTAINER_ACTIONS})`)},
  {id: 'RT-DOCKER-CONTAINER-COLLECTION', strength: 'strong', pattern: end('containers/(?:create|json|prune)')},
  {id: 'RT-DOCKER-EXEC', strength: 'strong', pattern: end('exec/\\{\\}/(?:start|resize|json)')},
  {
    id: 'RT-DOCKER-IMAGE-OP',
    strength: 'strong',
    pattern: end('images/(?:create|load|get|prune|search|json)|images/\\{\\}/(?:push|get|history|json)'),
  },
  {
    id: 'RT-DOCKER-PLUGIN-OP',
    strength: 'strong',
    pattern: end('plugins/(?:pull|create|privileges)|plugins/\\{\\}/(?:upgrade|enable|disable|push|set)'),
  },
  {id: 'RT-DOCKER-SERVICE-OP', strength: 'strong', pattern: end('services/create|services/\\{\\}/(?:update|logs)|tasks/\\{\\}/logs')},
  {id: 'RT-DOCKER-NETWORK-OP', strength: 'strong', pattern: end('networks/(?:create|prune)|networks/\\{\\}/(?:connect|disconnect)')},
  {id: 'RT-DOCKER-VOLUME-OP', strength: 'strong', pattern: end('volumes/(?:create|prune)')},
  {
    id: 'RT-DOCKER-SWARM-OP',
    strength: 'strong',
    pattern: end(
      'swarm/(?:init|join|leave|update|unlock|unlockkey)|nodes/\\{\\}/update|(?:secrets|configs)/create|(?:secrets|configs)/\\{\\}/update',
    ),
  },
  {id: 'RT-DOCKER-SYSTEM', strength: 'strong', pattern: end('_ping|system/df|distribution/\\{\\}/json|build/prune|build/cancel')},
  {id: 'RT-DOCKER-BUILD', strength: 'medium', pattern: end('build'), methods: ['POST']},
  {id: 'RT-DOCKER-COMMIT', strength: 'medium', pattern: end('commit'), methods: ['POST']},
  {
    id: 'RT-DOCKER-LOOKALIKE',
    strength: 'weak',
    pattern: weak(
      '/(?:containers|images|volumes|networks|plugins|services|tasks|secrets|configs|nodes)(?:/\\{\\})?|/images/\\{\\}/tag|/(?:events|info|version|swarm|session|auth)',
    ),
  },
  // Kubernetes API server
  {id: 'RT-K8S-WATCH', strength: 'strong', pattern: anywhere('api/v1/watch')},
  {id: 'RT-K8S-NAMESPACED', strength: 'strong', pattern: anywhere(`api/v1/(?:watch/)?namespaces/\\{\\}/(?:${K8S_NS_RESOURCES})`)},
  {
    id: 'RT-K8S-POD-SUBRESOURCE',
    strength: 'strong',
    pattern: end('pods/\\{\\}/(?:exec|attach|portforward|proxy|log|ephemeralcontainers|eviction|binding)(?:/.*)?'),
  },
  {id: 'RT-K8S-PROXY', strength: 'strong', pattern: end('(?:nodes|services)/\\{\\}/proxy(?:/.*)?')},
  {id: 'RT-K8S-GROUP', strength: 'strong', pattern: anywhere(`apis/[^/]+/v\\w+/(?:watch/)?(?:namespaces/\\{\\}/)?(?:${K8S_GROUP_RESOURCES})`)},
  {
    id: 'RT-K8S-LOOKALIKE',
    strength: 'weak',
    pattern: weak(`(?:/api|/apis|/api/v1|/apis/[^/]+(?:/[^/]+)?|/api/v1/(?:nodes|namespaces|persistentvolumes|${K8S_NS_RESOURCES})(?:/\\{\\})?)`),
  },
  // kubelet
  {id: 'RT-KUBELET-CONTAINER', strength: 'strong', pattern: end('(?:exec|run|attach|portForward|containerLogs)/\\{\\}/\\{\\}(?:/\\{\\})+')},
  {id: 'RT-KUBELET-LOGS', strength: 'strong', pattern: end('logs/\\{\\}'), pathParam: true},
  {
    id: 'RT-KUBELET-LOOKALIKE',
    strength: 'weak',
    pattern: weak('/(?:pods|runningpods|configz|spec|stats(?:/summary)?|logs(?:/\\{\\})?|run/\\{\\}|exec/\\{\\}|checkpoint/\\{\\}/\\{\\}/\\{\\})'),
  },
  // etcd (the cluster's store) v2/v3 key APIs
  {id: 'RT-ETCD-LOOKALIKE', strength: 'weak', pattern: weak('/(?:keys|kv/(?:range|put|deleterange|txn))(?:/\\{\\})?')},
];

const SHAPE_WEIGHT: Record<Strength, number> = {strong: 4, medium: 2, weak: 1};

/** Parameter names only runtimes use (lower-case). */
export const RUNTIME_PARAM_NAMES: ReadonlySet<string> = new Set([
  'filters',
  'fromimage',
  'fromsrc',
  'noprune',
  'detachkeys',
  'dockerfile',
  'buildargs',
  'x-registry-auth',
  'x-registry-config',
  'labelselector',
  'fieldselector',
  'resourceversion',
  'resourceversionmatch',
  'timeoutseconds',
  'allowwatchbookmarks',
  'propagationpolicy',
  'graceperiodseconds',
  'orphandependents',
  'sendinitialevents',
  'container',
  'logstream',
  'one-shot',
  'shmsize',
  'cachefrom',
  'networkmode',
  'extrahosts',
  'squash',
  'forcerm',
  'pull',
  'platform',
  'changes',
  'repo',
  'nocache',
  'v',
]);

const DOCKER_TAGS = new Set([
  'Container',
  'Image',
  'Exec',
  'Network',
  'Volume',
  'Swarm',
  'Node',
  'Service',
  'Task',
  'Secret',
  'Config',
  'Plugin',
  'System',
  'Distribution',
  'Session',
]);
const K8S_TAG =
  /^(?:core|apps|batch|rbacAuthorization|networking|storage|policy|autoscaling|admissionregistration|apiextensions|coordination|discovery|certificates)(?:_v\d\w*)?$/;
const K8S_OPID =
  /^(?:list|read|create|delete|deleteCollection|patch|replace|watch|connect)\w*?(?:Core|Apps|Batch|RbacAuthorization|Networking|Storage|Policy|Autoscaling|Admissionregistration|Apiextensions)V\d/;
const LIBPOD_OPID = /Libpod$/;
const DOCKER_OPID =
  /^(?:Container|Image|Exec|Network|Volume|Swarm|Node|Service|Task|Secret|Config|Plugin|System|Distribution|Session)(?:List|Inspect|Create|Delete|Start|Stop|Kill|Restart|Pause|Unpause|Wait|Logs|Top|Changes|Export|Stats|Resize|Update|Rename|Attach|Archive|Prune|Tag|Push|Build|Commit|Search|History|Get|Load|Connect|Disconnect|Enable|Disable|Upgrade|Pull|Set|Init|Join|Leave|Unlock|Events|Info|Version|Ping|DataUsage|Auth)/;

const RUNTIME_TITLE = /\b(?:docker|moby|podman|libpod|kubernetes|kubelet|containerd|cri-o|portainer|etcd)\b/i;
const RUNTIME_SERVER =
  /(?:^|\/)v1\.\d+(?:\/|$)|\.sock\b|:(?:2375|2376|6443|10250|10255|2379)\b|unix:|npipe:|\/\/(?:docker|podman|dockerd|kubernetes(?:\.default)?)(?:[:/]|$)/i;

export interface DocSignals {
  /** info.title + info.description (only tested against RUNTIME_TITLE; never echoed). */
  readonly text: string;
  /** servers[].url and Swagger host + basePath. */
  readonly servers: readonly string[];
}

export interface RouteInput {
  readonly method: string;
  /** Full path (server/basePath prefix applied), with `{param}` templates. */
  readonly path: string;
  readonly paramNames: readonly string[];
  readonly pathParamKinds: ReadonlyArray<string | null>;
  readonly tags: readonly string[];
  readonly operationId?: string;
}

export interface RouteVerdict {
  readonly shapeId: string;
  readonly score: number;
  readonly confidence: Confidence;
  /** Signal names that contributed (e.g. 'shape:strong', 'param:filters', 'doc:title'). */
  readonly signals: readonly string[];
}

export interface DocScore {
  readonly score: number;
  readonly signals: readonly string[];
}

export function docSignals(d: DocSignals): DocScore {
  const signals: string[] = [];
  let score = 0;
  if (RUNTIME_TITLE.test(d.text)) {
    score += 2;
    signals.push('doc:title');
  }
  if (d.servers.some(s => RUNTIME_SERVER.test(s))) {
    score += 2;
    signals.push('doc:server');
  }
  return {score, signals};
}

export function normaliseTemplate(p: string): string {
  const n = p
    .replace(/\{[^}/]*\}/g, '{}')
    .replace(/\/+/g, '/')
    .replace(/\/$/, '');
  return n.startsWith('/') ? n : `/${n}`;
}

/** Pure: the container-management verdict of one operation, or null. */
export function classifyRoute(op: RouteInput, doc: DocScore): RouteVerdict | null {
  const norm = normaliseTemplate(op.path);
  const method = op.method.toUpperCase();
  let shape: RouteShape | undefined;
  for (const s of ROUTE_SHAPES) {
    if (s.methods && !s.methods.includes(method)) continue;
    if (!s.pattern.test(norm)) continue;
    if (s.pathParam && !op.pathParamKinds.includes('host-path')) continue;
    if (!shape || SHAPE_WEIGHT[s.strength] > SHAPE_WEIGHT[shape.strength]) shape = s;
  }
  if (!shape) return null;
  const signals = [`shape:${shape.strength}`];
  let score = SHAPE_WEIGHT[shape.strength];
  let paramPoints = 0;
  for (const n of op.paramNames) {
    if (paramPoints >= 2) break;
    if (RUNTIME_PARAM_NAMES.has(n.toLowerCase())) {
      paramPoints++;
      signals.push(`param:${n.toLowerCase()}`);
    }
  }
  score += paramPoints;
  const opId = op.operationId ?? '';
  if (K8S_OPID.test(opId) || LIBPOD_OPID.test(opId)) {
    score += 2;
    signals.push('op:operationId');
  } else if (DOCKER_OPID.test(opId)) {
    score += 1;
    signals.push('op:operationId');
  }
  if (op.tags.some(t => DOCKER_TAGS.has(t) || K8S_TAG.test(t))) {
    score += 1;
    signals.push('op:tag');
  }
  score += doc.score;
  signals.push(...doc.signals);
  if (score < 3) return null;
  return {shapeId: shape.id, score, confidence: score >= 4 ? 'high' : 'medium', signals};
}
