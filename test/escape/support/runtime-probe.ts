/**
 * Where the full-suite test runs the runtime probe: the runner's own `sandbox` mode (the default
 * of `npm run escape` without --target): inside the hardened bubblewrap sandbox of
 * src/posture/sandbox (uid 10001, read-only root, no capabilities, no_new_privs, seccomp, cgroup
 * limits, private namespaces), the npm-test stand-in for the image. Missing tools fail the test
 * (never skip): the prerequisite check throws here, and the runner fails every runtime case too.
 */
import type {RuntimeOptions} from '../../../src/escape/runtime';
import {assertSandboxPrerequisites} from '../../../src/posture/sandbox/sandbox';

export function givenRuntimeProbe(): RuntimeOptions {
  assertSandboxPrerequisites();
  return {mode: 'sandbox'};
}
