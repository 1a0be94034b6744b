/**
 * The words of a package.json script as `sh -c` splits them, for the plain commands a
 * `test` script usually is (`cross-env CI=1 jest --ci 'src/**'`). Anything that makes it
 * more than one simple command with literal words (an operator, a redirection, a `$`
 * expansion, a backquote, an unterminated quote) is reported, not guessed at: the caller
 * then leaves the script alone.
 */
export type ShellWords = { readonly ok: true; readonly words: readonly string[] } | { readonly ok: false; readonly reason: string };

const OPERATOR_START = new Set(['&', '|', ';', '<', '>', '(', ')']);

export function shellWords(script: string): ShellWords {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const end = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  while (i < script.length) {
    const ch = script[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (ch === '\n' && words.length + (inWord ? 1 : 0) > 0) return { ok: false, reason: 'it is several lines' };
      end();
      i++;
      continue;
    }
    if (ch === '#' && !inWord) break;
    if (OPERATOR_START.has(ch)) {
      const op = /^(?:&&|\|\||>>|[&|;<>()])/.exec(script.slice(i))![0];
      return { ok: false, reason: `it uses the shell operator \`${op}\`` };
    }
    if (ch === '`') return { ok: false, reason: 'it uses command substitution (`…`)' };
    if (ch === '$') return { ok: false, reason: 'it expands `$`' };
    if (ch === '\\') {
      if (i + 1 >= script.length) return { ok: false, reason: 'it ends with a backslash' };
      if (script[i + 1] !== '\n') word += script[i + 1];
      inWord = true;
      i += 2;
      continue;
    }
    if (ch === "'") {
      const close = script.indexOf("'", i + 1);
      if (close < 0) return { ok: false, reason: 'a single quote is not closed' };
      word += script.slice(i + 1, close);
      inWord = true;
      i = close + 1;
      continue;
    }
    if (ch === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= script.length) return { ok: false, reason: 'a double quote is not closed' };
        const c = script[i]!;
        if (c === '"') break;
        if (c === '$' || c === '`') return { ok: false, reason: 'it expands `$` or `…` inside double quotes' };
        // Inside double quotes a backslash escapes only these; before anything else it is itself.
        if (c === '\\' && i + 1 < script.length && '$`"\\\n'.includes(script[i + 1]!)) {
          if (script[i + 1] !== '\n') word += script[i + 1];
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      i++;
      continue;
    }
    word += ch;
    inWord = true;
    i++;
  }
  end();
  return { ok: true, words };
}
