/**
 * A strict, small XML 1.0 parser for the tests (no XML parser is a dependency): elements,
 * attributes, text, the five predefined entities and numeric character references, an optional
 * XML declaration. Throws on anything not well-formed (mismatched or unclosed tags, duplicate or
 * unquoted attributes, stray '<' or '&', characters XML 1.0 forbids).
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const NAME = /^[A-Za-z_][\w.-]*/;

function decode(s: string, where: number): string {
  if (FORBIDDEN.test(s)) throw new Error(`forbidden character near ${where}`);
  return s.replace(/&([^;]*);?/g, (m, ent: string) => {
    if (!m.endsWith(';')) throw new Error(`unterminated entity near ${where}`);
    const named: Record<string, string> = {amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"};
    if (ent in named) return named[ent];
    const num = /^#(x[0-9a-fA-F]+|\d+)$/.exec(ent);
    if (!num) throw new Error(`unknown entity &${ent}; near ${where}`);
    const cp = num[1].startsWith('x') ? parseInt(num[1].slice(1), 16) : Number(num[1]);
    const ch = String.fromCodePoint(cp);
    if (FORBIDDEN.test(ch)) throw new Error(`forbidden character reference near ${where}`);
    return ch;
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  if (src.startsWith('<?xml')) {
    const end = src.indexOf('?>');
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  const skipWs = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const element = (): XmlElement => {
    if (src[i] !== '<') throw new Error(`expected '<' at ${i}`);
    i++;
    const name = NAME.exec(src.slice(i))?.[0];
    if (!name) throw new Error(`bad element name at ${i}`);
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      skipWs();
      if (src.startsWith('/>', i)) {
        i += 2;
        return {name, attrs, children: [], text: ''};
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      const an = NAME.exec(src.slice(i))?.[0];
      if (!an) throw new Error(`bad attribute at ${i}`);
      i += an.length;
      skipWs();
      if (src[i] !== '=') throw new Error(`expected '=' at ${i}`);
      i++;
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute at ${i}`);
      const end = src.indexOf(q, i + 1);
      if (end < 0) throw new Error('unterminated attribute');
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) throw new Error(`'<' in attribute at ${i}`);
      if (an in attrs) throw new Error(`duplicate attribute ${an}`);
      attrs[an] = decode(raw, i);
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (i >= src.length) throw new Error(`unclosed <${name}>`);
      if (src.startsWith('</', i)) {
        i += 2;
        const close = NAME.exec(src.slice(i))?.[0];
        if (close !== name) throw new Error(`</${close}> closes <${name}> at ${i}`);
        i += name.length;
        skipWs();
        if (src[i] !== '>') throw new Error(`bad closing tag at ${i}`);
        i++;
        return {name, attrs, children, text};
      }
      if (src[i] === '<') {
        children.push(element());
        continue;
      }
      const next = src.indexOf('<', i);
      const raw = src.slice(i, next < 0 ? src.length : next);
      if (raw.includes('>') && raw.includes(']]>')) throw new Error(`']]>' in text at ${i}`);
      text += decode(raw, i);
      i += raw.length;
    }
  };
  skipWs();
  const root = element();
  skipWs();
  if (i !== src.length) throw new Error(`content after the root element at ${i}`);
  return root;
}
