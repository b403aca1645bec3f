import {authorize} from '@loopback/authorization';
import {get} from '@loopback/rest';

export class PingController {
  @authorize.allowAuthenticated()
  @get('/ping', {
    summary: 'Liveness: answers once the caller passed mTLS and the authenticator.',
    responses: {'200': {description: 'pong', content: {'application/json': {schema: {type: 'object', properties: {pong: {type: 'boolean'}}}}}}},
  })
  ping(): {pong: true} {
    return {pong: true};
  }
}
