/**
 * `npm run bench:audit [-- --rounds N --large-rounds N --sizes 1000,10000 --no-spectral]`
 * (--large-rounds: rounds for specs of 5,000 operations or more, default 1: Spectral needs minutes
 * per round there on a loaded 2-core machine): the OpenAPI audit's cost
 * and accuracy, measured in one invocation.
 *
 * 1. Wall time and peak RSS of `audit:openapi` (src/audit/cli.ts) and of Spectral
 *    (@stoplight/spectral-cli with @stoplight/spectral-owasp-ruleset, dev dependencies used only
 *    here) on generated 1,000- and 10,000-operation specs, each tool a fresh child process, rounds
 *    interleaved, medians, and the Spectral/audit ratios printed in the same run. Peak RSS is the
 *    child's ru_maxrss, read by a python3 wrapper (getrusage(RUSAGE_CHILDREN)), which also reports
 *    the child's CPU seconds (user + system): on a shared machine the CPU ratio is the steadier one.
 * 2. Precision and recall on the project's labelled fixture set (test/fixtures/openapi): for
 *    container-management routes and URL-taking inputs.
 * Writes docs/benchmarks-audit.md and docs/benchmarks-audit.json.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {scoreLabelledFixtures} from './lib/labelled-openapi';

const ROOT = path.resolve(__dirname, '..', '..');
const AUDIT_CLI = path.join(ROOT, 'dist', 'src', 'audit', 'cli.js');
const SPECTRAL_CLI = path.join(ROOT, 'node_modules', '@stoplight', 'spectral-cli', 'dist', 'index.js');
const OWASP = path.join(ROOT, 'node_modules', '@stoplight', 'spectral-owasp-ruleset');
const log = (s: string) => process.stdout.write(`${s}\n`);

/** Runs argv as a child of a python3 wrapper; returns wall seconds, peak RSS (KiB) and exit code. */
const MEASURE_PY = `
import json, resource, subprocess, sys, time
t = time.monotonic()
try:
    p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
    rc = p.returncode
except subprocess.TimeoutExpired:
    rc = -9
wall = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": u.ru_utime + u.ru_stime, "maxrssKiB": u.ru_maxrss, "rc": rc}))
`;

interface Sample {
  wall: number;
  /** User + system CPU seconds of the child (less sensitive to a loaded machine than wall time). */
  cpu: number;
  maxrssKiB: number;
  rc: number;
}

function measure(argv: string[], cwd: string): Sample {
  const out = execFileSync('python3', ['-c', MEASURE_PY, ...argv], {cwd, timeout: 1_900_000, encoding: 'utf8'});
  return JSON.parse(out.trim()) as Sample;
}

/** A spec of `n` operations: CRUD over n/4 resources, $ref'd schemas, some URL fields, a few runtime-looking routes. */
export function generateSpec(n: number): object {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  let ops = 0;
  for (let i = 0; ops < n; i++) {
    const r = `resource${i}`;
    schemas[`R${i}`] = {
      type: 'object',
      required: ['name'],
      properties: {
        id: {type: 'string', format: 'uuid', maxLength: 36},
        name: {type: 'string', maxLength: 100},
        count: {type: 'integer', format: 'int32', minimum: 0, maximum: 1000},
        ...(i % 7 === 0 ? {callbackUrl: {type: 'string', format: 'uri', maxLength: 2048}} : {}),
        ...(i % 11 === 0 ? {exportPath: {type: 'string', maxLength: 255}} : {}),
        tags: {type: 'array', maxItems: 20, items: {type: 'string', maxLength: 50}},
        parent: {$ref: `#/components/schemas/R${i}`},
      },
      additionalProperties: false,
    };
    const base = i % 50 === 0 ? `/v1.45/containers/{id}/exec${i}` : `/api/v1/${r}`;
    const idParam = {name: 'id', in: 'path', required: true, schema: {type: 'string', maxLength: 36}};
    const json = (s: unknown) => ({content: {'application/json': {schema: s}}});
    const resp = (s?: unknown) => ({
      '200': {description: 'ok', ...(s ? json(s) : {})},
      '400': {description: 'bad request'},
      '401': {description: 'unauthenticated'},
      '429': {description: 'too many', headers: {'Retry-After': {schema: {type: 'integer', format: 'int32'}}}},
    });
    paths[base] = {
      get: {
        operationId: `list${i}`,
        tags: [r],
        parameters: [{name: 'limit', in: 'query', schema: {type: 'integer', format: 'int32', maximum: 100}}],
        responses: resp({type: 'array', maxItems: 100, items: {$ref: `#/components/schemas/R${i}`}}),
      },
      post: {
        operationId: `create${i}`,
        tags: [r],
        requestBody: json({$ref: `#/components/schemas/R${i}`}),
        responses: resp({$ref: `#/components/schemas/R${i}`}),
      },
    };
    paths[`${base}/{id}`] = {
      parameters: [idParam],
      get: {operationId: `get${i}`, tags: [r], responses: resp({$ref: `#/components/schemas/R${i}`})},
      delete: {operationId: `delete${i}`, tags: [r], responses: resp()},
    };
    ops += 4;
  }
  return {
    openapi: '3.0.3',
    info: {title: `generated ${n}`, version: '1', description: 'benchmark input'},
    servers: [{url: 'https://api.example.test', 'x-internal': false}],
    security: [{mtls: []}],
    components: {securitySchemes: {mtls: {type: 'mutualTLS'}}, schemas},
    paths,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Row {
  operations: number;
  rounds: number;
  bytes: number;
  audit: {wall: number; cpu: number; maxrssMiB: number; rc: number};
  spectral?: {wall: number; cpu: number; maxrssMiB: number; rc: number};
  ratio?: {time: number; cpu: number; rss: number};
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
  };
  const smallRounds = Math.max(1, Number(opt('--rounds', '3')));
  const largeRounds = Math.max(1, Number(opt('--large-rounds', '1')));
  const sizes = opt('--sizes', '1000,10000').split(',').map(Number);
  const withSpectral = !argv.includes('--no-spectral');
  if (!fs.existsSync(AUDIT_CLI)) throw new Error('build first (npm run build)');
  if (withSpectral && !fs.existsSync(SPECTRAL_CLI)) throw new Error('@stoplight/spectral-cli is not installed (npm ci)');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-audit-'));
  const ruleset = path.join(work, 'owasp-ruleset.js');
  fs.writeFileSync(ruleset, `const o = require(${JSON.stringify(OWASP)});\nmodule.exports = {extends: [o.default || o]};\n`);
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      const file = path.join(work, `spec-${n}.json`);
      fs.writeFileSync(file, JSON.stringify(generateSpec(n), null, 2));
      const bytes = fs.statSync(file).size;
      const a: Sample[] = [];
      const s: Sample[] = [];
      const rounds = n >= 5000 ? largeRounds : smallRounds;
      for (let r = 0; r < rounds; r++) {
        // interleaved: audit, spectral, audit, spectral, ...
        a.push(measure([process.execPath, AUDIT_CLI, file, '--format', 'json', '--fail-on', 'none'], work));
        if (withSpectral) s.push(measure([process.execPath, SPECTRAL_CLI, 'lint', file, '--ruleset', ruleset, '-f', 'json', '--quiet'], work));
        log(
          `  ${n} ops round ${r + 1}/${rounds}: audit ${a[r].wall.toFixed(2)} s (cpu ${a[r].cpu.toFixed(2)} s) ${(a[r].maxrssKiB / 1024).toFixed(0)} MiB${withSpectral ? `, spectral ${s[r].wall.toFixed(2)} s (cpu ${s[r].cpu.toFixed(2)} s) ${(s[r].maxrssKiB / 1024).toFixed(0)} MiB (exit ${s[r].rc})` : ''}`,
        );
      }
      const row: Row = {
        operations: n,
        bytes,
        rounds,
        audit: {wall: median(a.map(x => x.wall)), cpu: median(a.map(x => x.cpu)), maxrssMiB: median(a.map(x => x.maxrssKiB)) / 1024, rc: a[0].rc},
      };
      if (withSpectral) {
        row.spectral = {
          wall: median(s.map(x => x.wall)),
          cpu: median(s.map(x => x.cpu)),
          maxrssMiB: median(s.map(x => x.maxrssKiB)) / 1024,
          rc: s[0].rc,
        };
        row.ratio = {
          time: row.spectral.wall / row.audit.wall,
          cpu: row.spectral.cpu / row.audit.cpu,
          rss: row.spectral.maxrssMiB / row.audit.maxrssMiB,
        };
      }
      rows.push(row);
    }
  } finally {
    fs.rmSync(work, {recursive: true, force: true});
  }

  const pr = await scoreLabelledFixtures();
  const lines: string[] = [];
  lines.push(
    '# OpenAPI audit benchmark',
    '',
    `Generated by \`npm run bench:audit\` on ${new Date().toISOString()} (${os.cpus().length} CPUs, node ${process.version}); medians of interleaved rounds (${smallRounds} below 5,000 operations, ${largeRounds} from 5,000), each tool a fresh process; load average at the end ${os.loadavg()[0].toFixed(1)}.`,
    '',
  );
  lines.push(
    '| operations | spec bytes | rounds | audit wall s | audit CPU s | audit peak RSS MiB | Spectral OWASP wall s | Spectral CPU s | Spectral peak RSS MiB | wall ratio (Spectral/audit) | CPU ratio | RSS ratio |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of rows) {
    const sp = r.spectral;
    lines.push(
      `| ${r.operations} | ${r.bytes} | ${r.rounds} | ${r.audit.wall.toFixed(2)} | ${r.audit.cpu.toFixed(2)} | ${r.audit.maxrssMiB.toFixed(0)} | ${sp ? sp.wall.toFixed(2) : '-'} | ${sp ? sp.cpu.toFixed(2) : '-'} | ${sp ? sp.maxrssMiB.toFixed(0) : '-'} | ${r.ratio ? r.ratio.time.toFixed(1) : '-'} | ${r.ratio ? r.ratio.cpu.toFixed(1) : '-'} | ${r.ratio ? r.ratio.rss.toFixed(1) : '-'} |`,
    );
  }
  lines.push('', `Labelled fixture set: ${pr.files} files, ${pr.operations} operations (test/fixtures/openapi, written for this project).`, '');
  lines.push('| class | TP | FP | FN | precision | recall |', '|---|---:|---:|---:|---:|---:|');
  for (const [name, c] of [
    ['container-management routes', pr.containerMgmt],
    ['URL-taking inputs', pr.urlInput],
  ] as const) {
    lines.push(`| ${name} | ${c.tp} | ${c.fp} | ${c.fn} | ${c.precision.toFixed(3)} | ${c.recall.toFixed(3)} |`);
  }
  if (pr.containerMgmt.errors.length + pr.urlInput.errors.length > 0)
    lines.push('', 'Misses and false alarms:', ...[...pr.containerMgmt.errors, ...pr.urlInput.errors].map(e => `- ${e}`));
  lines.push(
    '',
    'The labelled set was written together with the route rules: these figures show that rules and labels agree on realistic shapes, not how the rules generalise to specs nobody has looked at.',
  );
  lines.push('', 'Peak RSS is ru_maxrss of the child process. Spectral exits 1 when it reports findings; its exit code is recorded in the JSON.');
  const md = lines.join('\n') + '\n';
  log('');
  log(md);
  fs.writeFileSync(path.join(ROOT, 'docs', 'benchmarks-audit.md'), md);
  fs.writeFileSync(
    path.join(ROOT, 'docs', 'benchmarks-audit.json'),
    JSON.stringify(
      {rows, labelled: {files: pr.files, operations: pr.operations, containerMgmt: {...pr.containerMgmt}, urlInput: {...pr.urlInput}}},
      null,
      2,
    ) + '\n',
  );
}

if (require.main === module) {
  main().catch(e => {
    process.stderr.write(`bench:audit: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
