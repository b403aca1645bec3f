/**
 * The hooks the harness hands to the service's SSRF-safe outbound client. They are structurally
 * the same as `LookupFn` / `ConnectShim` / `CheckedDestination` of src/guards/outbound-client.ts
 * (declared here too so the harness does not depend on the guard's internals).
 */
export interface LookupAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolve every address of a host name. */
export type LookupFn = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface CheckedDestination {
  /** The original host (name or literal) of the URL. */
  readonly hostname: string;
  /** The checked address the connection is pinned to. */
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
}

/** Where to open the TCP connection for an already checked destination. */
export type ConnectShim = (dest: CheckedDestination) => {readonly host: string; readonly port: number};

/** What the service's outbound client needs from the harness. */
export interface OutboundOverrides {
  lookup: LookupFn;
  connectShim: ConnectShim;
  /** Trust anchor of the fake public upstream's TLS certificate. */
  ca: string;
}
