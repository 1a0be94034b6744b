/** Python's reserved words: never target types, names or argument names. */
export const PYTHON_KEYWORDS: ReadonlySet<string> = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del',
  'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal',
  'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield',
]);

const STATEMENTS: Readonly<Record<string, string>> = {
  def: 'function definitions (`def`) are not supported in BUILD files',
  class: 'class definitions are not supported in BUILD files',
  import: 'imports are not supported in BUILD files',
  from: 'imports are not supported in BUILD files',
  lambda: 'lambda expressions are not supported in BUILD files',
  not: 'the `not` operator is not supported in BUILD files',
  and: 'the `and` operator is not supported in BUILD files',
  or: 'the `or` operator is not supported in BUILD files',
  in: 'the `in` operator is not supported in BUILD files',
  is: 'the `is` operator is not supported in BUILD files',
  async: '`async` is not supported in BUILD files',
  await: '`await` is not supported in BUILD files',
};

/**
 * Why a statement starting with keyword `word` is rejected, or undefined for the
 * keywords that start an expression that is merely misplaced (True, False, None).
 */
export function unsupportedKeyword(word: string): string | undefined {
  if (word === 'True' || word === 'False' || word === 'None') return undefined;
  return STATEMENTS[word] ?? `\`${word}\` statements are not supported in BUILD files`;
}
