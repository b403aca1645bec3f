/**
 * Static policy: deploy/kubernetes validated with kubernetes-models (the Kubernetes OpenAPI
 * schemas), then the Pod Security Standards "restricted" properties and the network, scaling
 * and availability settings asserted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {Deployment} from 'kubernetes-models/apps/v1/Deployment';
import {HorizontalPodAutoscaler} from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import {NetworkPolicy} from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import {PodDisruptionBudget} from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import {Namespace} from 'kubernetes-models/v1/Namespace';
import {Service} from 'kubernetes-models/v1/Service';
import {ServiceAccount} from 'kubernetes-models/v1/ServiceAccount';
import {LimitRange} from 'kubernetes-models/v1/LimitRange';
import {ResourceQuota} from 'kubernetes-models/v1/ResourceQuota';

const DIR = path.resolve(__dirname, '..', '..', '..', '..', 'deploy', 'kubernetes');

type Doc = {apiVersion: string; kind: string; metadata: {name: string; namespace?: string; labels?: Record<string, string>}; [k: string]: any};

const MODELS: Record<string, new (d: any) => {validate(): void}> = {
  'v1/Namespace': Namespace,
  'v1/LimitRange': LimitRange,
  'v1/ResourceQuota': ResourceQuota,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

function givenManifests(): {file: string; doc: Doc}[] {
  const out: {file: string; doc: Doc}[] = [];
  for (const file of fs
    .readdirSync(DIR)
    .filter(f => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()) {
    for (const d of YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8'))) {
      if (d.errors.length) throw d.errors[0];
      const doc = d.toJS() as Doc | null;
      if (doc) out.push({file, doc});
    }
  }
  return out;
}

function only(docs: {doc: Doc}[], kind: string, name?: string): Doc {
  const found = docs.filter(d => d.doc.kind === kind && (name === undefined || d.doc.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0].doc;
}

/** Every key/value pair anywhere in a document. */
function* walk(v: unknown, p = ''): Generator<[string, unknown]> {
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* walk(v[i], `${p}[${i}]`);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      yield [`${p}.${k}`, x];
      yield* walk(x, `${p}.${k}`);
    }
}

describe('container policy: Kubernetes manifests (unit)', () => {
  const docs = givenManifests();

  it('every manifest validates against the Kubernetes schemas (kubernetes-models)', () => {
    assert.ok(docs.length >= 8);
    for (const {file, doc} of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `${file}: ${doc.apiVersion}/${doc.kind} is expected`);
      new Model(doc).validate();
      if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, 'hardened-mtls', `${file} ${doc.metadata.name} namespaced`);
    }
  });

  it('the validation is not vacuous: a malformed Deployment is rejected', () => {
    const bad = structuredClone(only(docs, 'Deployment'));
    bad.spec.replicas = 'two';
    assert.throws(() => new Deployment(bad as any).validate());
  });

  it('kustomization lists every manifest and sets the versioned image tag', () => {
    const k = YAML.parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
      images: {name: string; newTag: string}[];
    };
    assert.deepEqual([...k.resources].sort(), [...new Set(docs.map(d => d.file))].sort());
    const pkg = JSON.parse(fs.readFileSync(path.join(DIR, '..', '..', 'package.json'), 'utf8')) as {version: string};
    assert.deepEqual(k.images, [{name: 'localhost/hardened-mtls', newTag: pkg.version}]);
  });

  it('the namespace enforces Pod Security Standards "restricted"', () => {
    const ns = only(docs, 'Namespace');
    assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/warn'], 'restricted');
    assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/audit'], 'restricted');
  });

  describe('Deployment', () => {
    const dep = only(docs, 'Deployment');
    const pod = dep.spec.template.spec;
    const containers: any[] = [...pod.containers, ...(pod.initContainers ?? [])];

    it('>= 2 replicas spread across nodes and zones', () => {
      assert.ok(dep.spec.replicas >= 2);
      const keys = (pod.topologySpreadConstraints as any[]).map(c => c.topologyKey);
      assert.ok(keys.includes('kubernetes.io/hostname'));
      assert.ok(keys.includes('topology.kubernetes.io/zone'));
      assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
    });

    it('pod: non-root 10001, the project seccomp profile (Localhost, shipped in deploy/seccomp), own user namespace, no service-account token, no host namespaces', () => {
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.securityContext.runAsUser, 10001);
      assert.equal(pod.securityContext.runAsGroup, 10001);
      assert.deepEqual(pod.securityContext.seccompProfile, {type: 'Localhost', localhostProfile: 'hardened-mtls/hardened-mtls.json'});
      assert.ok(fs.existsSync(path.join(DIR, '..', 'seccomp', 'hardened-mtls.json')));
      assert.equal(pod.hostUsers, false);
      assert.equal(pod.automountServiceAccountToken, false);
      for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) assert.notEqual(pod[k], true, k);
      assert.equal(pod.shareProcessNamespace, undefined);
    });

    it('containers: read-only root, no privilege escalation, drop ALL, non-root, seccomp, resources, probes', () => {
      for (const c of containers) {
        const sc = c.securityContext;
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.notEqual(sc.privileged, true);
        assert.deepEqual(sc.capabilities.drop, ['ALL']);
        assert.equal(sc.capabilities.add, undefined);
        assert.equal(sc.runAsNonRoot, true);
        assert.equal(sc.runAsUser, 10001);
        assert.equal(sc.seccompProfile.type, 'Localhost');
        for (const r of ['requests', 'limits']) for (const k of ['cpu', 'memory', 'ephemeral-storage']) assert.ok(c.resources[r][k], `${r}.${k}`);
        const pkg = JSON.parse(fs.readFileSync(path.join(DIR, '..', '..', 'package.json'), 'utf8')) as {version: string};
        assert.equal(c.image, `localhost/hardened-mtls:${pkg.version}`, 'the versioned tag (kustomize images: pins the digest)');
        assert.ok(c.livenessProbe && c.readinessProbe, 'probes');
        const env = new Map((c.env as {name: string; value: string}[]).map(e => [e.name, e.value]));
        assert.equal(env.get('POSTURE_MODE'), 'enforce');
        assert.equal(env.get('NODE_ENV'), 'production');
        assert.equal(env.get('PRINT_BANNER'), 'false');
        assert.equal(env.get('POSTURE_ACCEPT_UNPROVEN'), 'userns-restricted,ptrace-restricted,cgroup-limits-set');
        assert.deepEqual(
          c.ports.map((p: any) => p.containerPort),
          [8443],
        );
      }
    });

    it('certificates come from Secrets mounted read-only; no other volume', () => {
      const vols = pod.volumes as any[];
      for (const v of vols) {
        assert.ok(v.secret?.secretName, `${v.name} is a Secret`);
        assert.ok(v.secret.defaultMode <= 0o440, `${v.name} mode`);
      }
      for (const c of containers) for (const m of c.volumeMounts) assert.equal(m.readOnly, true, `${m.mountPath} read-only`);
    });
  });

  it('no manifest uses hostPath, host namespaces, privileged mode or a runtime socket', () => {
    for (const {file, doc} of docs) {
      for (const [p, v] of walk(doc)) {
        assert.ok(!p.endsWith('.hostPath'), `${file}${p}`);
        if (/\.(hostNetwork|hostPID|hostIPC|privileged|allowPrivilegeEscalation)$/.test(p)) assert.notEqual(v, true, `${file}${p}`);
        if (typeof v === 'string') assert.doesNotMatch(v, /docker\.sock|containerd\.sock|crio\.sock|podman\.sock/, `${file}${p}`);
      }
    }
  });

  it('NetworkPolicy: default deny both ways; the service accepts 8443 only and reaches only DNS and the OCSP/CRL endpoint', () => {
    const deny = only(docs, 'NetworkPolicy', 'default-deny-all');
    assert.deepEqual(deny.spec.podSelector, {});
    assert.deepEqual([...deny.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    assert.equal(deny.spec.ingress, undefined);
    assert.equal(deny.spec.egress, undefined);
    const app = only(docs, 'NetworkPolicy', 'hardened-mtls');
    assert.deepEqual([...app.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    const inPorts = (app.spec.ingress as any[]).flatMap(r => r.ports);
    assert.deepEqual(inPorts, [{protocol: 'TCP', port: 8443}]);
    for (const rule of app.spec.ingress as any[]) {
      assert.ok(Array.isArray(rule.from) && rule.from.length > 0, 'ingress names its sources');
      for (const f of rule.from)
        assert.ok(f.podSelector?.matchLabels && f.namespaceSelector?.matchLabels, `source ${JSON.stringify(f)} selects pods in named namespaces`);
    }
    for (const rule of app.spec.egress as any[]) {
      const ports = (rule.ports as any[]).map(p => p.port);
      const dns = ports.every(p => p === 53);
      const ocsp = ports.every(p => p === 80 || p === 443) && (rule.to as any[]).every(t => t.ipBlock && /\/32$/.test(t.ipBlock.cidr));
      assert.ok(dns || ocsp, `egress rule ${JSON.stringify(rule)}`);
      assert.ok(rule.to && rule.to.length > 0, 'egress rules name their destination');
    }
  });

  it('LimitRange and ResourceQuota bound the namespace, ephemeral storage included; the quota fits the autoscaler maximum', () => {
    const lr = only(docs, 'LimitRange');
    const item = (lr.spec.limits as any[]).find(l => l.type === 'Container');
    for (const k of ['cpu', 'memory', 'ephemeral-storage']) assert.ok(item.default[k] && item.max[k], k);
    const rq = only(docs, 'ResourceQuota');
    assert.equal(rq.spec.hard.persistentvolumeclaims, '0');
    const hpa = only(docs, 'HorizontalPodAutoscaler');
    assert.ok(Number(rq.spec.hard.pods) >= hpa.spec.maxReplicas + 1, 'room for maxReplicas + a surge pod');
  });

  it('Service, PodDisruptionBudget and HorizontalPodAutoscaler target the Deployment', () => {
    const dep = only(docs, 'Deployment');
    const labels = dep.spec.template.metadata.labels;
    const svc = only(docs, 'Service');
    assert.deepEqual(
      svc.spec.ports.map((p: any) => p.port),
      [8443],
    );
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v);
    const pdb = only(docs, 'PodDisruptionBudget');
    assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < dep.spec.replicas);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v);
    const hpa = only(docs, 'HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, {apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name});
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
    const sa = only(docs, 'ServiceAccount');
    assert.equal(sa.automountServiceAccountToken, false);
    assert.equal(dep.spec.template.spec.serviceAccountName, sa.metadata.name);
  });
});
