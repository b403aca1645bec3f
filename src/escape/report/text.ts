/** Escaping shared by the reports. Pure. */

/** Control characters shown as escapes (\r, \n, \t, \u0000 ...), so CRLF or NUL payloads stay visible. */
export function visible(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, ch => {
        if (ch === '\r') return '\\r';
        if (ch === '\n') return '\\n';
        if (ch === '\t') return '\\t';
        return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
      })
      // Lone surrogates cannot be encoded (UTF-8, XML): show them as escapes too.
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ch => `\\u${ch.charCodeAt(0).toString(16)}`)
  );
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, ch => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;'})[ch]!);
}

/** XML 1.0 text/attribute escaping; characters XML cannot carry are shown as escapes first. */
export function escapeXml(s: string): string {
  return visible(s).replace(/[&<>"']/g, ch => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'})[ch]!);
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
