/**
 * Where the full-suite test runs the runtime probe: inside the sandbox tier's hardened
 * mini-container (bubblewrap: uid 10001, read-only root, no capabilities, no_new_privs, seccomp,
 * cgroup limits, private namespaces; test/integration/sandbox), the npm-test stand-in for the
 * image. `runtime-probe.js` runs there with the built tree bound at /app, exactly as the container
 * tier runs it in the image. Missing tools fail the test (never skip).
 */
import type {RuntimeOptions} from '../../../src/escape/runtime';
import {parseProbeOutput} from '../../../src/escape/runtime';
import {APP_DIR, assertSandboxPrerequisites, runInSandbox, SANDBOX_NODE} from '../../integration/sandbox/sandbox';

export async function givenRuntimeProbe(): Promise<RuntimeOptions> {
  assertSandboxPrerequisites();
  return {
    mode: 'function',
    where: 'sandbox tier (bubblewrap: uid 10001, ro root, no caps, no_new_privs, seccomp)',
    run: async () => {
      const r = await runInSandbox({command: [SANDBOX_NODE, `${APP_DIR}/dist/src/escape/runtime-probe.js`], env: {NODE_ENV: 'production'}});
      try {
        return parseProbeOutput(r.stdout);
      } catch (e) {
        throw new Error(`runtime probe in the sandbox: ${(e as Error).message}; exit ${String(r.code)}; stderr: ${r.stderr.slice(-2000)}`);
      }
    },
  };
}
