/**
 * POST /fetch {"url": ...}: the demo of the SSRF-safe outbound client. The URL is checked by the
 * request guard (metadata hosts in the body), the URL-parameter interceptor (static SSRF policy)
 * and the OutboundClient itself (every resolved address at connect time, pinned). Answers the
 * upstream status, content type, Location of a 3xx (redirects are never followed) and a bounded
 * preview of the body.
 */
import {authorize} from '@loopback/authorization';
import {inject} from '@loopback/core';
import {post, requestBody} from '@loopback/rest';
import {GuardsBindings} from '../guards/keys';
import type {OutboundClient} from '../outbound/outbound-client';

const PREVIEW_BYTES = 1024;

export interface FetchResult {
  status: number;
  contentType: string | null;
  location: string | null;
  truncated: boolean;
  bytes: number;
  preview: string;
}

export class FetchController {
  constructor(@inject(GuardsBindings.OUTBOUND_CLIENT) private readonly outbound: OutboundClient) {}

  /** Outbound requests are an operator's tool: role `operator` only (MTLS_POLICY_FILE). */
  @authorize({allowedRoles: ['operator']})
  @post('/fetch', {
    summary: 'Fetch a public URL through the SSRF-safe outbound client (demo).',
    'x-outbound-client': true,
    responses: {
      '200': {
        description: 'The upstream answer (status, content type, bounded preview); a 3xx is reported, not followed.',
        content: {'application/json': {schema: {type: 'object'}}},
      },
    },
  })
  async fetch(
    @requestBody({
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['url'],
            additionalProperties: false,
            properties: {url: {type: 'string', minLength: 1, maxLength: 4096}},
          },
        },
      },
    })
    body: {
      url: string;
    },
  ): Promise<FetchResult> {
    const r = await this.outbound.fetch(body.url, {purpose: 'demo-fetch', overflow: 'truncate', maxBytes: PREVIEW_BYTES * 4});
    return {
      status: r.status,
      contentType: r.contentType,
      location: r.location,
      truncated: r.truncated,
      bytes: r.body.length,
      preview: r.body.subarray(0, PREVIEW_BYTES).toString('utf8'),
    };
  }
}
