/**
 * The hooks the harness hands to the service's SSRF-safe outbound client: the client's own
 * types (src/outbound/outbound-client.ts), so the two can never drift apart.
 */
import type {ConnectShim, LookupFn} from '../../outbound/outbound-client';

export type {CheckedDestination, ConnectShim, LookupAddress, LookupFn} from '../../outbound/outbound-client';

/** What the service's outbound client needs from the harness. */
export interface OutboundOverrides {
  lookup: LookupFn;
  connectShim: ConnectShim;
  /** Trust anchor of the fake public upstream's TLS certificate. */
  ca: string;
}
