/**
 * cgroup-limits-set over fake /proc + /sys trees written to a temp directory (both cgroup
 * layouts): the pids/memory limit may sit on an ancestor (Kubernetes puts podPidsLimit on the pod
 * cgroup, none on the container's); ancestors hidden by a cgroup namespace or a bind-mounted
 * container cgroup make the finding `unproven`, never `pass`; a visible hierarchy root with no
 * limit anywhere fails. Each tree is read through a probe rooted at the temp directory, the
 * /proc texts from the tree's own proc/self files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cgroupLimit, parseMountinfo, parseProcCgroup, PostureProbe} from '../../../src/posture/posture';

type Tree = Record<string, string>;

const POD = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice';
const CTR = `${POD}/cri-containerd-abc.scope`;

interface Layout {
  name: string;
  tree: Tree;
  expect: {pids: string; memory: string; dir?: string};
}

function v2Mount(root: string): string {
  return `1 0 0:1 / / ro - overlay overlay rw\n30 1 0:26 ${root} /sys/fs/cgroup ro,nosuid,nodev,noexec - cgroup2 cgroup2 rw\n`;
}

function v1Mounts(root: string): string {
  return (
    `1 0 0:1 / / ro - overlay overlay rw\n30 1 0:40 / /sys/fs/cgroup ro - tmpfs tmpfs rw\n` +
    `31 30 0:31 ${root} /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n` +
    `32 30 0:35 ${root} /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids\n`
  );
}

const V1_UNLIMITED = '9223372036854771712';

const LAYOUTS: Layout[] = [
  {
    name: 'v2, whole hierarchy visible: pod cgroup pids.max 256, container unlimited => the ancestor counts',
    tree: {
      'proc/self/cgroup': `0::${CTR}\n`,
      'proc/self/mountinfo': v2Mount('/'),
      [`sys/fs/cgroup${CTR}/pids.max`]: 'max\n',
      [`sys/fs/cgroup${CTR}/memory.max`]: '536870912\n',
      [`sys/fs/cgroup${POD}/pids.max`]: '256\n',
      [`sys/fs/cgroup${POD}/memory.max`]: 'max\n',
      'sys/fs/cgroup/kubepods.slice/pids.max': 'max\n',
      'sys/fs/cgroup/kubepods.slice/memory.max': 'max\n',
    },
    expect: {pids: 'limited 256 ancestor', memory: 'limited 536870912 own', dir: `/sys/fs/cgroup${POD}`},
  },
  {
    name: 'v1, whole hierarchies visible: pod cgroup pids.max 256 and memory limit on the pod',
    tree: {
      'proc/self/cgroup': `12:pids:${CTR}\n9:memory:${CTR}\n0::/\n`,
      'proc/self/mountinfo': v1Mounts('/'),
      [`sys/fs/cgroup/pids${CTR}/pids.max`]: 'max\n',
      [`sys/fs/cgroup/memory${CTR}/memory.limit_in_bytes`]: `${V1_UNLIMITED}\n`,
      [`sys/fs/cgroup/pids${POD}/pids.max`]: '256\n',
      [`sys/fs/cgroup/memory${POD}/memory.limit_in_bytes`]: '536870912\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': `${V1_UNLIMITED}\n`,
    },
    expect: {pids: 'limited 256 ancestor', memory: 'limited 536870912 ancestor', dir: `/sys/fs/cgroup/pids${POD}`},
  },
  {
    name: 'v2, cgroup namespace (0::/): container unlimited, ancestors hidden => unproven',
    tree: {
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': v2Mount('/'),
      'sys/fs/cgroup/pids.max': 'max\n',
      'sys/fs/cgroup/memory.max': '536870912\n',
    },
    expect: {pids: 'hidden', memory: 'limited 536870912 own'},
  },
  {
    name: 'v1, container cgroup bind-mounted (docker/containerd): unlimited, ancestors hidden => unproven',
    tree: {
      'proc/self/cgroup': `12:pids:${CTR}\n9:memory:${CTR}\n`,
      'proc/self/mountinfo': v1Mounts(CTR),
      'sys/fs/cgroup/pids/pids.max': 'max\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': `${V1_UNLIMITED}\n`,
    },
    expect: {pids: 'hidden', memory: 'hidden'},
  },
  {
    name: 'v1, container cgroup bind-mounted with its own limits (podman --pids-limit)',
    tree: {
      'proc/self/cgroup': '8:pids:/libpod_parent/libpod-1\n4:memory:/libpod_parent/libpod-1\n',
      'proc/self/mountinfo': v1Mounts('/libpod_parent/libpod-1'),
      'sys/fs/cgroup/pids/pids.max': '256\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n',
    },
    expect: {pids: 'limited 256 own', memory: 'limited 536870912 own'},
  },
  {
    name: 'v2, hierarchy root visible (no pids.max/memory.max at the root), no limit anywhere => fail',
    tree: {
      'proc/self/cgroup': '0::/user.slice/session.scope\n',
      'proc/self/mountinfo': v2Mount('/'),
      'sys/fs/cgroup/user.slice/session.scope/pids.max': 'max\n',
      'sys/fs/cgroup/user.slice/pids.max': 'max\n',
      'sys/fs/cgroup/user.slice/session.scope/memory.max': 'max\n',
      'sys/fs/cgroup/user.slice/memory.max': 'max\n',
    },
    expect: {pids: 'unlimited', memory: 'unlimited'},
  },
  {
    name: 'v1, root visible, no limit => fail',
    tree: {
      'proc/self/cgroup': '12:pids:/a\n9:memory:/a\n',
      'proc/self/mountinfo': v1Mounts('/'),
      'sys/fs/cgroup/pids/a/pids.max': 'max\n',
      'sys/fs/cgroup/memory/a/memory.limit_in_bytes': `${V1_UNLIMITED}\n`,
      'sys/fs/cgroup/memory/memory.limit_in_bytes': `${V1_UNLIMITED}\n`,
    },
    expect: {pids: 'unlimited', memory: 'unlimited'},
  },
  {
    name: "a mount that does not contain our cgroup is not read (its limit is someone else's)",
    tree: {
      'proc/self/cgroup': '0::/mine\n',
      'proc/self/mountinfo': v2Mount('/other'),
      'sys/fs/cgroup/pids.max': '10\n',
      'sys/fs/cgroup/memory.max': '10\n',
    },
    expect: {pids: 'not-visible', memory: 'not-visible'},
  },
];

function givenTree(tree: Tree): {root: string; probe: PostureProbe; cleanup: () => void} {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'posture-cgroup-'));
  for (const [rel, text] of Object.entries(tree)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), {recursive: true});
    fs.writeFileSync(path.join(root, rel), text);
  }
  const probe: PostureProbe = {
    readText: p => {
      try {
        return fs.readFileSync(path.join(root, p), 'utf8');
      } catch {
        return undefined;
      }
    },
    writable: () => false,
    entryType: () => 'missing',
  };
  return {root, probe, cleanup: () => fs.rmSync(root, {recursive: true, force: true})};
}

function describeLimit(l: ReturnType<typeof cgroupLimit>): string {
  return l.status === 'limited' ? `limited ${l.value} ${l.ancestor ? 'ancestor' : 'own'}` : l.status;
}

describe('posture: cgroup limits up the hierarchy, fake /proc + /sys trees (unit)', () => {
  for (const layout of LAYOUTS) {
    it(layout.name, () => {
      const t = givenTree(layout.tree);
      try {
        const mounts = parseMountinfo(t.probe.readText('/proc/self/mountinfo')!);
        const lines = parseProcCgroup(t.probe.readText('/proc/self/cgroup')!);
        const pids = cgroupLimit(t.probe, mounts, lines, 'pids');
        assert.equal(describeLimit(pids), layout.expect.pids);
        assert.equal(describeLimit(cgroupLimit(t.probe, mounts, lines, 'memory')), layout.expect.memory);
        if (layout.expect.dir) assert.equal(pids.status === 'limited' && pids.dir, layout.expect.dir);
      } finally {
        t.cleanup();
      }
    });
  }
});
