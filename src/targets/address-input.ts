import { basenameRel, dirnameRel, failure, FailureError, isFailureError, joinRel, raise, toRelPath, type Location } from '../core/index.js';
import type { ComputeContext } from '../engine/index.js';
import { PathKindKey } from '../fs/index.js';
import { checkTargetName, type Address } from './address.js';
import { findTarget, unknownTarget } from './lookup.js';
import { nearestPath } from './near-path.js';
import { OwnersKey } from './owners.js';
import type { Project } from './project.js';

/** An address as a user wrote it, before we know whether its path is a file or a directory. */
export interface AddressInput {
  readonly raw: string;
  /** Root-relative path part. */
  readonly path: string;
  /** Target name part, with any `../` prefixes of a file address still on it. */
  readonly name?: string;
}

/**
 * Parses `//dir:name`, `dir:name`, `:name`, `./file`, `../dir:name`, `dir/f.txt:gen`.
 * `base` is the directory relative references start from (the BUILD file's
 * directory, or the working directory for command-line specs). Returns an error
 * message for malformed input.
 */
export function parseAddressInput(raw: string, base: string): AddressInput | string {
  if (raw.trim() !== raw || raw === '') return `\`${raw}\` is not an address`;
  const colon = raw.indexOf(':');
  let pathPart = colon < 0 ? raw : raw.slice(0, colon);
  const name = colon < 0 ? undefined : raw.slice(colon + 1);
  if (name !== undefined) {
    if (name.includes(':')) return `\`${raw}\` has more than one \`:\``;
    const bare = name.replace(/^(\.\.\/)+/, '');
    const bad = checkTargetName(bare);
    if (bad) return `\`${raw}\`: ${bad}`;
  }
  let path: string | undefined;
  if (pathPart.startsWith('//')) {
    pathPart = pathPart.slice(2);
    path = toRelPath(pathPart);
  } else if (pathPart === '' && name !== undefined) {
    path = base;
  } else if (pathPart === '.' || pathPart === '..' || pathPart.startsWith('./') || pathPart.startsWith('../')) {
    path = toRelPath(joinRel(base, pathPart));
  } else {
    path = toRelPath(pathPart);
  }
  if (path === undefined || pathPart.startsWith('/')) return `\`${raw}\` points outside the build root`;
  return name === undefined ? { raw, path } : { raw, path, name };
}

/**
 * Resolves an address input to target addresses, checking they exist. A path
 * without a name is a directory's default target or, for a file, its owners.
 * `what` completes the error message (`in \`dependencies\` of src/app:app`).
 */
export async function resolveAddressInput(
  ctx: ComputeContext,
  project: Project,
  input: AddressInput,
  context: { readonly what: string; readonly location?: Location; readonly notes?: readonly string[] },
): Promise<Address[]> {
  const kind = await ctx.get(new PathKindKey(project.ws, input.path)).catch((e: unknown) => {
    // A symlink out of the root or in a loop: say where the address was written.
    if (isFailureError(e) && e.failure.location === undefined && context.location) throw new FailureError({ ...e.failure, location: context.location });
    throw e;
  });
  const written = { ...context, written: input.raw };
  const where = { ...(context.location ? { location: context.location } : {}), ...(context.notes ? { notes: context.notes } : {}) };
  if (input.name === undefined) {
    if (kind === 'file') {
      const owners = await ctx.get(new OwnersKey(project, input.path));
      if (owners.length === 0) {
        raise(
          failure('input', 'unowned-file', `no target owns \`${input.path}\`${context.what ? ` (${context.what})` : ''}`, {
            ...where,
            hints: ['add the file to the `sources` of a target, e.g. files(sources=[…]) in its directory'],
          }),
        );
      }
      return [...owners];
    }
    if (kind === 'missing') {
      const near = await nearestPath(ctx, project.ws, input.path);
      raise(
        failure('input', 'no-such-path', `\`${input.raw}\` is neither a file nor a directory${context.what ? ` (${context.what})` : ''}`, {
          ...where,
          ...(near !== undefined ? { hints: [`did you mean \`${asWritten(input.raw, input.path, near)}\`?`] } : {}),
        }),
      );
    }
    const addr: Address = { dir: input.path, name: input.path === '' ? project.rootName : basenameRel(input.path) };
    if (!(await findTarget(ctx, project, addr))) await unknownTarget(ctx, project, addr, written);
    return [addr];
  }
  let addr: Address;
  if (kind === 'file') {
    const ups = (input.name.match(/\.\.\//g) ?? []).length;
    let dir = dirnameRel(input.path);
    for (let i = 0; i < ups; i++) dir = dirnameRel(dir);
    addr = { dir, name: input.name.slice(ups * 3), file: dir === '' ? input.path : input.path.slice(dir.length + 1) };
  } else {
    addr = { dir: input.path, name: input.name };
  }
  if (!(await findTarget(ctx, project, addr))) await unknownTarget(ctx, project, addr, written);
  return [addr];
}

/** `near` in the form `raw` was written: `./make.sh` for `./mak.sh`, else from the root (`//a/make.sh`). */
function asWritten(raw: string, path: string, near: string): string {
  if (dirnameRel(path) === dirnameRel(near) && raw.endsWith(basenameRel(path))) return `${raw.slice(0, raw.length - basenameRel(path).length)}${basenameRel(near)}`;
  return `//${near}`;
}
