/**
 * Text made safe for XML 1.0. Characters XML cannot hold at all (NUL, ESC and the other C0
 * controls but tab and newlines, unpaired surrogates, U+FFFE/U+FFFF) become `\uXXXX`, so a
 * test printing ANSI colours or binary still gives a document every parser reads.
 */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function visible(text: string): string {
  return text.replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** For element content. `]]>` needs no care: `>` is escaped. */
export function xmlText(text: string): string {
  return visible(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** For a double-quoted attribute; line breaks and tabs as references, which attribute normalisation would otherwise turn into spaces. */
export function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}
