/** Where the full-suite test runs the runtime probe. */
import type {RuntimeOptions} from '../../../src/escape/runtime';

export async function givenRuntimeProbe(): Promise<RuntimeOptions> {
  return {mode: 'in-process'};
}
