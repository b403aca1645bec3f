/**
 * `node dist/src/escape/runtime-probe.js`: run INSIDE a target (e.g. `podman exec CONTAINER node
 * /app/dist/src/escape/runtime-probe.js`) to answer the escape suite's runtime cases. Prints one
 * JSON document (RuntimeProbeOutput): the posture report of this process and what a child
 * process it spawns sees. Exit status 0 when everything blocking is compliant, 1 otherwise.
 */
import {gatherRuntimeProbe} from './runtime';

export async function main(): Promise<number> {
  const out = await gatherRuntimeProbe();
  process.stdout.write(JSON.stringify(out) + '\n');
  const postureOk = !('error' in out.posture) && out.posture.compliant;
  const childOk = !('error' in out.child) && out.child.findings.every(f => f.ok);
  return postureOk && childOk ? 0 : 1;
}

if (require.main === module) {
  void main().then(code => (process.exitCode = code));
}
