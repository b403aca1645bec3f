import {authorize} from '@loopback/authorization';
import {inject} from '@loopback/core';
import {get, RestBindings, RestServer} from '@loopback/rest';

/**
 * The app's own OpenAPI spec, served behind the same mTLS authenticator as every route
 * (LoopBack's built-in, unauthenticated /openapi.json endpoint is disabled). QA's escape
 * runner reads it to generate spec-driven cases.
 */
export class OpenApiController {
  constructor(@inject(RestBindings.SERVER) private readonly server: RestServer) {}

  /** The route map is for operators and QA's spec reader, not for every workload. */
  @authorize({allowedRoles: ['operator', 'spec-reader']})
  @get('/openapi.json', {summary: "This service's OpenAPI document.", responses: {'200': {description: 'OpenAPI 3 document'}}})
  async spec(): Promise<object> {
    return this.server.getApiSpec();
  }
}
