/**
 * A `command` that needs no shell, run without one.
 *
 * `bash -c 'node build.js out/a.txt'` parses the words, finds `node` on PATH
 * (the tools directory) and execs it: the process it runs is the tool's
 * shim with those words. Starting bash for that costs each process a few
 * milliseconds of CPU (bash's start-up, its PATH search), so a command bash
 * would treat exactly so is run as `[<tools>/node, build.js, out/a.txt]`
 * instead. The argv is the Command's, so the action digest differs from
 * the bash one: no cache entry of one is served for the other.
 *
 * "Exactly so" is kept narrow; anything else keeps bash:
 * - words of plain characters only, split by spaces: no quoting, escapes,
 *   expansions (`$`, `` ` ``, `~`, globs, braces), comments, operators,
 *   redirections or assignments could change what bash makes of them;
 * - the first word is one of the command's tools (a shim in the sandbox,
 *   so it is found and runs; never "command not found"), and not a bash
 *   builtin or reserved word, which bash would run itself;
 * - no variable that tells bash to do more than run it (BASH_ENV, ENV,
 *   SHELLOPTS, BASHOPTS, PS4, POSIXLY_CORRECT, BASH_*) is set.
 *
 * What the process sees differs in one way: bash adds `SHLVL` and `_` to its
 * environment; without it those two are absent, as in its Command.
 */

/** Characters bash gives no meaning to in an unquoted word (outside an assignment's first word). */
const PLAIN_WORD = /^[A-Za-z0-9_./:,@%+=-]+$/;

/** Run by bash itself, never looked up on PATH (`compgen -b`, `compgen -k`). */
const BASH_OWN = new Set(
  (
    '. : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown echo enable eval exec exit export false fc fg ' +
    'getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend test ' +
    'times trap true type typeset ulimit umask unalias unset wait ' +
    'if then else elif fi case esac for select while until do done in function time { } ! [[ ]] coproc'
  ).split(' '),
);

/** Variables that make a non-interactive bash read a file, trace, or change how it parses. */
function changesBash(name: string): boolean {
  return name.startsWith('BASH') || name === 'ENV' || name === 'SHELLOPTS' || name === 'PS4' || name === 'POSIXLY_CORRECT';
}

/**
 * The words of `command` when bash would only exec the tool its first word
 * names with the rest as arguments; undefined when it might do anything else.
 */
export function directWords(command: string, tools: ReadonlySet<string>, env: Readonly<Record<string, string>>): string[] | undefined {
  if (Object.keys(env).some(changesBash)) return undefined;
  const words = command.split(' ').filter((w) => w !== '');
  const first = words[0];
  if (first === undefined || !tools.has(first) || BASH_OWN.has(first)) return undefined;
  // An assignment prefix (`A=b node`) is a word with `=` before any other character bash treats specially: refused by the tool check above.
  if (!words.every((w) => PLAIN_WORD.test(w))) return undefined;
  return words;
}
