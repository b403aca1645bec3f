/**
 * Stub resolver for a machine with no DNS: the catalog's `dns` answers (a `sequence` gives one
 * answer per lookup, for DNS rebinding), `public.test` and its subdomains -> 93.184.215.14, and
 * NXDOMAIN (ENOTFOUND) for everything else.
 */
import net from 'node:net';
import type {DnsAnswers} from '../catalog';
import type {LookupAddress, LookupFn} from './types';

export const PUBLIC_TEST_ADDRESS = '93.184.215.14';
/** Addresses treated as "the public internet" (served by the fake upstream). */
export const FAKE_PUBLIC_ADDRESSES: readonly string[] = [PUBLIC_TEST_ADDRESS, '2606:4700:4700::1111'];

export interface StubResolver {
  readonly lookup: LookupFn;
  /** Names looked up, in order (lower case). */
  readonly lookups: string[];
  reset(): void;
}

export function createStubResolver(table: DnsAnswers): StubResolver {
  const entries = new Map(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]));
  const position = new Map<string, number>();
  const lookups: string[] = [];
  const lookup: LookupFn = async (hostname: string): Promise<LookupAddress[]> => {
    const name = hostname.toLowerCase();
    lookups.push(name);
    const entry = entries.get(name) ?? entries.get(name.replace(/\.$/, ''));
    let answer: string[] | undefined;
    if (Array.isArray(entry)) {
      answer = entry;
    } else if (entry) {
      const i = position.get(name) ?? 0;
      answer = entry.sequence[Math.min(i, entry.sequence.length - 1)];
      position.set(name, i + 1);
    } else if (/(^|\.)public\.test\.?$/.test(name)) {
      answer = [PUBLIC_TEST_ADDRESS];
    }
    if (!answer) throw Object.assign(new Error(`queryA ENOTFOUND ${hostname}`), {code: 'ENOTFOUND', hostname});
    return answer.map(address => ({address, family: net.isIP(address)}));
  };
  return {
    lookup,
    lookups,
    reset: () => {
      lookups.length = 0;
      position.clear();
    },
  };
}
