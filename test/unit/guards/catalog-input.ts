/** How a catalog case becomes a request (shared by the unit, integration and acceptance tests). */
import type {RequestInput} from '../../../src/guards/request-policy';
import type {CatalogCase} from '../../fixtures/escape-harness';

/** Stand-ins for the service's benign routes (the acceptance test uses the real ones). */
const BENIGN_GET = '/ping';
const BENIGN_POST = '/echo';

export function requestInputFor(c: CatalogCase, benignGet = BENIGN_GET, benignPost = BENIGN_POST): RequestInput {
  switch (c.vector) {
    case 'path':
      return {rawTarget: c.payload, headers: []};
    case 'query':
      return {rawTarget: `${benignGet}?${c.payload}`, headers: []};
    case 'header': {
      const i = c.payload.indexOf(':');
      return {rawTarget: benignGet, headers: [[c.payload.slice(0, i), c.payload.slice(i + 1).trim()]]};
    }
    case 'body':
      return {rawTarget: benignPost, headers: [], body: {contentType: c.content_type ?? 'application/json', text: c.payload}};
    case 'url-param':
      return {rawTarget: '/fetch', headers: [], body: {contentType: 'application/json', text: JSON.stringify({url: c.payload})}};
    default:
      throw new Error(`no request form for vector ${c.vector}`);
  }
}
