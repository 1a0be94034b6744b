import { closest, failure, raise, type Location } from '../core/index.js';
import type { ComputeContext } from '../engine/index.js';
import { formatAddress, type Address } from './address.js';
import { DirTargetsKey } from './dir-targets.js';
import { TargetDirsUnderKey } from './synthetic.js';
import type { Target } from './target.js';
import type { TargetEnv } from './target-env.js';

/** The target at an address, or undefined. */
export async function findTarget(ctx: ComputeContext, env: TargetEnv, addr: Address): Promise<Target | undefined> {
  const dt = await ctx.get(new DirTargetsKey(env, addr.dir));
  const want = formatAddress(addr);
  return dt.targets.find((t) => t.address === want);
}

/**
 * Raises "unknown target" with the closest real address as a hint. Looks in the
 * same directory first, then in the BUILD directory nearest by name.
 */
export async function unknownTarget(
  ctx: ComputeContext,
  env: TargetEnv,
  addr: Address,
  context: { readonly what: string; readonly location?: Location; readonly notes?: readonly string[]; readonly written?: string },
): Promise<never> {
  const want = formatAddress(addr);
  let candidates = (await ctx.get(new DirTargetsKey(env, addr.dir))).targets.map((t) => t.address);
  if (candidates.length === 0) {
    const dirs = await ctx.get(new TargetDirsUnderKey(env, ''));
    const near = closest(addr.dir, dirs);
    if (near !== undefined) candidates = (await ctx.get(new DirTargetsKey(env, near))).targets.map((t) => t.address);
  }
  const guess = closest(want, candidates);
  // Answer in the form the user wrote: `//lib:utl` gets `//lib:util`.
  const shown = context.written ?? want;
  const suggestion = guess !== undefined && shown.startsWith('//') && !guess.startsWith('//') ? `//${guess}` : guess;
  raise(
    failure('input', 'unknown-target', `unknown target \`${shown}\`${context.what ? ` ${context.what}` : ''}`, {
      ...(context.location ? { location: context.location } : {}),
      ...(context.notes ? { notes: context.notes } : {}),
      hints: suggestion
        ? [`did you mean ${suggestion}?`]
        : [candidates.length === 0 ? `there is no BUILD file declaring targets in \`${addr.dir || '//'}\`` : `targets there: ${candidates.slice(0, 8).join(', ')}`],
    }),
  );
}
