import { joinNames, titleCase } from '@demo/strings';

/** `Hello, Ada and Grace!` */
export function greet(names: readonly string[], greeting = 'Hello'): string {
  const who = names.length === 0 ? 'world' : joinNames(names.map(titleCase));
  return `${greeting}, ${who}!`;
}
