/**
 * How each wire vector becomes bytes on the wire (catalog.README "Vectors"). Pure.
 */
import type {EscapeCase} from './catalog';
import {UNIX_CANARY_PLACEHOLDER} from './catalog';
import type {RawRequest} from './client';

export interface RouteConfig {
  /** BENIGN_GET: query and header payloads go here (default /search). */
  benignGet: string;
  /** BENIGN_POST: body payloads go here (default /echo). */
  benignPost: string;
  /** The outbound-fetch route taking {"url": ...} (default /fetch). */
  fetchRoute: string;
  /** Authenticated route for the mTLS cases (default /ping). */
  tlsProbe: string;
}

export const DEFAULT_ROUTES: RouteConfig = Object.freeze({benignGet: '/search', benignPost: '/echo', fetchRoute: '/fetch', tlsProbe: '/ping'});

/** Splits a header payload "Name: value" (the value is sent as UTF-8 bytes). */
export function splitHeader(payload: string): [string, string] {
  const i = payload.indexOf(': ');
  if (i <= 0) throw new Error(`header payload without "Name: value": ${payload}`);
  return [payload.slice(0, i), payload.slice(i + 2)];
}

/** The url-param payload with the harness placeholders filled in (undefined: needs the harness). */
export function urlParamPayload(c: EscapeCase, unixCanary: string | undefined): string | undefined {
  if (!c.payload.includes(UNIX_CANARY_PLACEHOLDER)) return c.payload;
  return unixCanary === undefined ? undefined : c.payload.split(UNIX_CANARY_PLACEHOLDER).join(unixCanary);
}

/** The raw request for a path/query/header/body/url-param case. */
export function buildRequest(c: EscapeCase, routes: RouteConfig, urlPayload?: string): RawRequest {
  switch (c.vector) {
    case 'path': {
      const method = c.method ?? 'GET';
      if (!c.authz) return {method, target: c.payload};
      const headers: [string, string][] = [...(c.authz.headers ?? [])];
      const body = c.authz.body === undefined ? undefined : Buffer.from(c.authz.body, 'utf8');
      if (body && !headers.some(([k]) => k.toLowerCase() === 'content-type')) headers.push(['Content-Type', 'application/json']);
      return {method, target: c.payload, headers, ...(body ? {body} : {})};
    }
    case 'query':
      return {method: c.method ?? 'GET', target: `${routes.benignGet}?${c.payload}`};
    case 'header': {
      const [name, value] = splitHeader(c.payload);
      // A Host payload replaces the Host header (a second Host field would be a different case).
      if (name.toLowerCase() === 'host') return {method: c.method ?? 'GET', target: routes.benignGet, host: value};
      return {method: c.method ?? 'GET', target: routes.benignGet, headers: [[name, value]]};
    }
    case 'body':
      return {
        method: c.method ?? 'POST',
        target: routes.benignPost,
        headers: [['Content-Type', c.content_type ?? 'application/json']],
        body: Buffer.from(c.payload, 'utf8'),
      };
    case 'url-param': {
      const body: Record<string, string> = {url: urlPayload ?? c.payload};
      return {
        method: 'POST',
        target: routes.fetchRoute,
        headers: [['Content-Type', 'application/json']],
        body: Buffer.from(JSON.stringify(body), 'utf8'),
      };
    }
    default:
      throw new Error(`${c.id}: vector ${c.vector} is not a request vector`);
  }
}
