/**
 * Request bodies for section 4 (POST /echo). Benign content only (product catalogue words): the
 * guards must let them through, so the bench measures the cost of inspecting, not of refusing.
 * Pure (unit-tested).
 */

export const SMALL_BODY = JSON.stringify({name: 'widget', quantity: 3, tags: ['blue', 'small'], note: 'deliver on monday'});

const WORDS = [
  'alpha',
  'bravo',
  'cedar',
  'delta',
  'ember',
  'fjord',
  'grove',
  'harbor',
  'island',
  'juniper',
  'kettle',
  'lantern',
  'meadow',
  'nectar',
  'orchard',
  'pepper',
];

/**
 * A JSON object of exactly `bytes` bytes (UTF-8; ASCII only): {"items":[...],"meta":{...}} with
 * items {id, name, note, tags[3]}, padded in meta.pad to the exact size.
 */
export function jsonBodyOfSize(bytes: number): string {
  const items: object[] = [];
  const meta = {source: 'bench', pad: ''};
  const render = () => JSON.stringify({items, meta});
  // Each item adds its own JSON text plus one comma: grow by that length, not by re-rendering.
  let size = render().length;
  for (let i = 0; ; i++) {
    const w = (k: number) => WORDS[(i * 7 + k) % WORDS.length];
    const item = {id: i, name: `${w(0)} ${w(1)}`, note: `${w(2)} ${w(3)} ${w(4)} item`, tags: [w(5), w(6), w(7)]};
    const grow = JSON.stringify(item).length + (items.length > 0 ? 1 : 0);
    if (size + grow > bytes) break;
    items.push(item);
    size += grow;
  }
  const missing = bytes - render().length;
  if (missing < 0) throw new Error(`cannot build a JSON body of ${bytes} bytes`);
  meta.pad = 'x'.repeat(missing);
  return render();
}

export const LARGE_BODY_BYTES = 64 * 1024;

/** The /echo answer for a body: {received: true, keys: sorted top-level keys}. */
export function expectedEcho(body: string): {received: true; keys: string[]} {
  return {received: true, keys: Object.keys(JSON.parse(body) as object).sort()};
}
