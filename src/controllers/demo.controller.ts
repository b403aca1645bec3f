/**
 * Demo routes: harmless content endpoints that give the guards and the escape-attempt suite
 * real routes to aim at (BENIGN_GET = GET /search, BENIGN_POST = POST /echo), and that prove
 * the guards do not over-block ordinary paths such as /products/procurement.
 */
import {authorize} from '@loopback/authorization';
import {get, param, post, requestBody} from '@loopback/rest';

const ok = {description: 'ok', content: {'application/json': {schema: {type: 'object'}}}};

/** Any admitted identity may use the demo content routes. */
@authorize.allowAuthenticated()
export class DemoController {
  @get('/search', {summary: 'Free-text search (demo).', responses: {'200': ok}})
  search(@param.query.string('q') q?: string, @param.query.string('tag') tag?: string): object {
    return {query: q ?? null, tag: tag ?? null, results: []};
  }

  @post('/echo', {summary: 'Accepts a JSON or form body and reports its shape (demo).', responses: {'200': ok}})
  echo(
    @requestBody({
      required: true,
      content: {
        'application/json': {schema: {type: 'object', additionalProperties: true}},
        'application/x-www-form-urlencoded': {schema: {type: 'object', additionalProperties: true}},
      },
    })
    body: Record<string, unknown>,
  ): object {
    return {received: true, keys: Object.keys(body).sort()};
  }

  @get('/products/{slug}', {summary: 'A product page (demo).', responses: {'200': ok}})
  product(@param.path.string('slug') slug: string): object {
    return {kind: 'product', slug};
  }

  @get('/developers/{slug}', {summary: 'A developer page (demo).', responses: {'200': ok}})
  developer(@param.path.string('slug') slug: string): object {
    return {kind: 'developer', slug};
  }

  @get('/systems/{slug}', {summary: 'A systems page (demo).', responses: {'200': ok}})
  system(@param.path.string('slug') slug: string): object {
    return {kind: 'system', slug};
  }

  @get('/files/{name}', {summary: 'A document by name (demo; no file-system access).', responses: {'200': ok}})
  file(@param.path.string('name') name: string): object {
    return {kind: 'file', name};
  }

  @get('/static/{path}', {summary: 'A static asset by name (demo; no file-system access).', responses: {'200': ok}})
  asset(@param.path.string('path') assetPath: string): object {
    return {kind: 'static', path: assetPath};
  }
}
