/** Marks a branch the type checker proves impossible; reaching it at run time is a bug. */
export function unreachable(value: never, what = 'value'): never {
  throw new Error(`unreachable: unexpected ${what}: ${JSON.stringify(value)}`);
}
