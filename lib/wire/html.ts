/**
 * Escaping text for HTML, for routes that render SSE events as HTML
 * fragments (htmx's SSE extension swaps an event's data in as HTML).
 */

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * `text` with `& < > " '` replaced by entities: safe as element content and as
 * a quoted attribute value (OWASP's rule for both contexts).
 *
 * @example
 * ```ts
 * escapeHtml('<b>hi</b>'); // '&lt;b&gt;hi&lt;/b&gt;'
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => entities[c] ?? c);
}

/**
 * A tagged template that escapes every interpolated value (strings as is,
 * anything else through `String()`) and keeps the literal parts: the markup
 * is the route's, the values are text.
 *
 * @example
 * ```ts
 * render: (m) => html`<li class="msg">${(m.data as { text: string }).text}</li>`
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): string {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) {
    out += escapeHtml(String(values[i])) + (strings[i + 1] ?? '');
  }
  return out;
}
