import { closest, failure, raise, type Location } from '../core/index.js';
import type { ComputeContext } from '../engine/index.js';
import { PathKindKey } from '../fs/index.js';
import { formatAddress, type Address } from './address.js';
import { DirTargetsKey, type DirTargets } from './dir-targets.js';
import { TargetDirsUnderKey } from './synthetic.js';
import type { Target } from './target.js';
import type { Project } from './project.js';

/**
 * Address → target, per DirTargets value. Kept beside the value rather than in
 * it, so the value stays plain data for the engine's structural cut-off; a
 * directory's value is immutable, so its index never goes stale.
 */
const byAddress = new WeakMap<DirTargets, ReadonlyMap<string, Target>>();

function indexOf(dt: DirTargets): ReadonlyMap<string, Target> {
  let index = byAddress.get(dt);
  if (index === undefined) {
    index = new Map(dt.targets.map((t) => [t.address, t]));
    byAddress.set(dt, index);
  }
  return index;
}

/**
 * The target at an address, or undefined. A map lookup, not a scan: one BUILD
 * file can declare thousands of targets that depend on each other, and a scan
 * per lookup made `dependencies --transitive` over such a chain quadratic.
 */
export async function findTarget(ctx: ComputeContext, project: Project, addr: Address): Promise<Target | undefined> {
  const dt = await ctx.get(new DirTargetsKey(project, addr.dir));
  return indexOf(dt).get(formatAddress(addr));
}

/**
 * Raises "unknown target" with the closest real address as a hint. Looks in the
 * same directory first, then in the BUILD directory nearest by name.
 */
export async function unknownTarget(
  ctx: ComputeContext,
  project: Project,
  addr: Address,
  context: { readonly what: string; readonly location?: Location; readonly notes?: readonly string[]; readonly written?: string },
): Promise<never> {
  const want = formatAddress(addr);
  let candidates = (await ctx.get(new DirTargetsKey(project, addr.dir))).targets.map((t) => t.address);
  if (candidates.length === 0) {
    const dirs = await ctx.get(new TargetDirsUnderKey(project, ''));
    const near = closest(addr.dir, dirs);
    if (near !== undefined) candidates = (await ctx.get(new DirTargetsKey(project, near))).targets.map((t) => t.address);
  }
  const dirMissing = candidates.length === 0 && addr.dir !== '' && (await ctx.get(new PathKindKey(project.ws, addr.dir))) === 'missing';
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
        : [
            dirMissing
              ? `the directory \`${addr.dir}\` does not exist`
              : candidates.length === 0
                ? `there is no BUILD file declaring targets in \`${addr.dir || '//'}\``
                : `targets there: ${candidates.slice(0, 8).join(', ')}`,
          ],
    }),
  );
}
