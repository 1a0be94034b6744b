import { titleCase } from '@demo/strings';

/** The app's line: a greeting, and how many were greeted. */
export function message(args: readonly string[], greet: (names: readonly string[]) => string): string {
  const count = args.length === 1 ? 'one name' : `${args.length} names`;
  return `${greet(args)} (${titleCase(count)})`;
}
