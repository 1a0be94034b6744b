import { closest, joinRel } from '../core/index.js';
import type { ComputeContext } from '../engine/index.js';
import { ListingKey, type Workspace } from '../fs/index.js';

/**
 * The existing path a missing one was most likely meant to be, for a
 * did-you-mean: each segment that does not exist is replaced by the closest
 * visible name in its directory (directories for inner segments), as long as
 * one is close enough. Undefined when nothing is, or the path exists.
 * `lastIsDir`: the last segment names a directory too (a glob's base).
 */
export async function nearestPath(ctx: Pick<ComputeContext, 'get'>, ws: Workspace, path: string, lastIsDir = false): Promise<string | undefined> {
  if (path === '') return undefined;
  const parts = path.split('/');
  const out: string[] = [];
  let dir = '';
  for (const [i, part] of parts.entries()) {
    const listing = await ctx.get(new ListingKey(ws, dir));
    if (!listing.exists) return undefined;
    const last = i === parts.length - 1;
    const names = last && !lastIsDir ? [...listing.files, ...listing.dirs] : listing.dirs;
    const name = names.includes(part) ? part : closest(part, names);
    if (name === undefined) return undefined;
    out.push(name);
    dir = joinRel(dir, name);
  }
  const near = out.join('/');
  return near === path ? undefined : near;
}
