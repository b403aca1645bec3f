#!/usr/bin/env node
/**
 * Pins the Kubernetes manifests to an image DIGEST (never a tag): rewrites every container
 * `image:` in deploy/kubernetes/*.yaml that names the service image, and the kustomization's
 * `images:` entry, to `NAME@sha256:DIGEST`.
 *
 *   npm run image:pin -- IMAGE                      digest of IMAGE from `podman image inspect`
 *   npm run image:pin -- --digest sha256:... IMAGE  digest given (e.g. `podman push --digestfile`)
 *   options: --dir DIR (default deploy/kubernetes), --engine podman|docker, --match NAME (the
 *            image name the manifests use today; default localhost/hardened-mtls)
 *
 * IMAGE is `REGISTRY/NAME[:TAG]`; its repository (without tag or digest) becomes the pinned name.
 * Which digest: after `podman push --digestfile FILE IMAGE`, FILE holds the digest the REGISTRY
 * serves (a push may recompress layers, so a local build's own manifest digest can differ from
 * it): pass that with --digest. Without --digest, the local engine's digest of IMAGE is used
 * (`.Digest`: right for an image pulled from, or pushed to, the registry).
 *
 * Exit 0: files rewritten (the changes are printed); 2: usage or a malformed image/digest;
 * 1: the engine failed or nothing in DIR names the image (nothing is written then).
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
// registry/path components (lower case), optional :tag, optional @digest
const REFERENCE = /^((?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/;

export class PinError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** `{name, tag, digest}` of an image reference; throws PinError(2) when malformed. */
export function parseReference(ref) {
  const m = REFERENCE.exec(ref);
  if (!m) throw new PinError(`not an image reference: ${JSON.stringify(ref)}`, 2);
  return {name: m[1], tag: m[2], digest: m[3]};
}

/** The digest the local engine records for IMAGE. */
export function localDigest(image, engine = 'podman') {
  let out;
  try {
    out = execFileSync(engine, ['image', 'inspect', '--format', '{{.Digest}}', image], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    throw new PinError(
      `${engine} image inspect ${image} failed: ${String(e.stderr ?? e.message)
        .trim()
        .slice(0, 500)}`,
      1,
    );
  }
  const d = out.trim();
  if (!DIGEST.test(d)) throw new PinError(`${engine} gave no sha256 digest for ${image} (${JSON.stringify(d)})`, 1);
  return d;
}

/**
 * Rewrites the manifests in DIR (pure on its inputs apart from the files): returns the changes
 * as [{file, from, to}]. `match` is the image name used in DIR today.
 */
export function pinManifests(dir, {name, digest, match}) {
  if (!DIGEST.test(digest)) throw new PinError(`not a sha256 digest: ${JSON.stringify(digest)}`, 2);
  const pinned = `${name}@${digest}`;
  const changes = [];
  const writes = [];
  const matches = ref => {
    try {
      const r = parseReference(ref);
      return r.name === match || r.name === name;
    } catch {
      return false;
    }
  };
  for (const f of fs
    .readdirSync(dir)
    .filter(x => /\.ya?ml$/.test(x))
    .sort()) {
    const file = path.join(dir, f);
    const text = fs.readFileSync(file, 'utf8');
    if (f === 'kustomization.yaml' || f === 'kustomization.yml') {
      const doc = YAML.parseDocument(text);
      const images = doc.get('images');
      if (!images) continue;
      let pinnedHere = false;
      for (const item of images.items) {
        const n = item.get('name');
        if (n !== match && n !== name) continue;
        const from = `${item.get('newName') ?? n}${item.get('newTag') ? `:${item.get('newTag')}` : ''}${item.get('digest') ? `@${item.get('digest')}` : ''}`;
        item.set('name', name);
        item.delete('newName');
        item.delete('newTag');
        item.set('digest', digest);
        changes.push({file, from, to: `${name}@${digest}`});
        pinnedHere = true;
      }
      if (pinnedHere) writes.push([file, doc.toString()]);
      continue;
    }
    // container images: rewrite the value in place (comments and layout kept)
    let changed = false;
    const out = text.replace(/^(\s*(?:-\s+)?image:\s*)(["']?)([^\s"'#]+)\2/gm, (line, lead, q, ref) => {
      if (!matches(ref)) return line;
      changes.push({file, from: ref, to: pinned});
      changed = true;
      return `${lead}${q}${pinned}${q}`;
    });
    if (changed) writes.push([file, out]);
  }
  if (!changes.some(c => !/kustomization\.ya?ml$/.test(c.file)))
    throw new PinError(`no container image named ${match} or ${name} in ${dir}: nothing pinned`, 1);
  for (const [file, text] of writes) fs.writeFileSync(file, text);
  return changes;
}

function usage() {
  return 'usage: npm run image:pin -- [--digest sha256:HEX] [--dir DIR] [--engine podman|docker] [--match NAME] IMAGE';
}

export function main(argv) {
  const opts = {dir: 'deploy/kubernetes', engine: 'podman', match: 'localhost/hardened-mtls', digest: undefined};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = {'--digest': 'digest', '--dir': 'dir', '--engine': 'engine', '--match': 'match'}[a];
    if (key) {
      if (i + 1 >= argv.length) throw new PinError(`${a} needs a value\n${usage()}`, 2);
      opts[key] = argv[++i];
    } else if (a.startsWith('-')) throw new PinError(`unknown option ${a}\n${usage()}`, 2);
    else rest.push(a);
  }
  if (rest.length !== 1) throw new PinError(usage(), 2);
  if (!['podman', 'docker'].includes(opts.engine)) throw new PinError(`--engine must be podman or docker`, 2);
  const ref = parseReference(rest[0]);
  const digest = opts.digest ?? ref.digest ?? localDigest(rest[0], opts.engine);
  if (!DIGEST.test(digest)) throw new PinError(`not a sha256 digest: ${JSON.stringify(digest)}`, 2);
  return pinManifests(opts.dir, {name: ref.name, digest, match: opts.match});
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    for (const c of main(process.argv.slice(2))) process.stdout.write(`${c.file}: ${c.from} -> ${c.to}\n`);
  } catch (e) {
    process.stderr.write(`image:pin: ${e.message}\n`);
    process.exitCode = e instanceof PinError ? e.exitCode : 1;
  }
}
