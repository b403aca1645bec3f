/**
 * `node dist/bench/tools/profile-breakdown.js PROFILE.cpuprofile [--after-first FUNCTION@URLPART] [--skip-ms N] [--top N]`
 *
 * Self time of a V8 CPU profile (e.g. from `npm run bench -- --cpu-prof DIR`) grouped by where the
 * code lives: npm package, Node core, the service's own folders (src/<folder>), native builtins,
 * garbage collection; idle time left out. With --after-first, only samples after the first one
 * inside that function (e.g. `handle@rest/dist/sequence.js`, the first request) plus --skip-ms count,
 * so start-up does not weigh in. Prints milliseconds and shares, and the top self-time functions;
 * multiply a share by the bench's measured server CPU per request to get µs per request.
 */
import * as fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function groupOf(cf: CallFrame): string {
  const {url, functionName} = cf;
  if (!url) {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(program)') return '(program)';
    if (functionName === '(idle)') return '(idle)';
    return `native`;
  }
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = /\/dist\/(src|bench)\/([^/]+)(\/|$)/.exec(url);
  if (src) return src[3] === '/' ? `${src[1]}/${src[2]}` : `${src[1]}/${src[2]}`;
  return url;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args[0];
  if (!file) throw new Error('usage: profile-breakdown PROFILE [--after-first fn@urlpart] [--skip-ms N] [--top N]');
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map(n => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let startIdx = 0;
  const after = opt('--after-first');
  if (after) {
    const [fn, urlPart] = after.split('@');
    const marks = new Set(prof.nodes.filter(n => n.callFrame.functionName === fn && n.callFrame.url.includes(urlPart ?? '')).map(n => n.id));
    const inside = (id: number) => {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (marks.has(cur)) return true;
      return false;
    };
    startIdx = prof.samples.findIndex(inside);
    if (startIdx < 0) throw new Error(`no sample inside ${after}`);
  }
  const skipUs = Number(opt('--skip-ms') ?? 0) * 1000;
  let t = 0;
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    if (i < startIdx) continue;
    t += dt;
    if (t < skipUs) continue;
    const n = byId.get(prof.samples[i])!;
    const g = groupOf(n.callFrame);
    if (g === '(idle)') continue;
    total += dt;
    groups.set(g, (groups.get(g) ?? 0) + dt);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${g} ${n.callFrame.url.split('/').slice(-1)[0]}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + dt);
  }
  const top = Number(opt('--top') ?? 25);
  process.stdout.write(`busy ${(total / 1000).toFixed(0)} ms\n`);
  for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1]))
    process.stdout.write(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(2).padStart(6)} %  ${g}\n`);
  process.stdout.write('\ntop self time:\n');
  for (const [f, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${((100 * us) / total).toFixed(2).padStart(6)} %  ${f}\n`);
}

if (require.main === module) main();
