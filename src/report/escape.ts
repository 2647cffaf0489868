/** Characters XML forbids even escaped: a log with a stray NUL must not break a standalone SVG. */
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/**
 * Text from records and logs is written by step code, which is untrusted: everything placed in
 * HTML or SVG goes through here, in element content and in quoted attributes alike.
 */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(INVALID_XML, "\uFFFD");
}
