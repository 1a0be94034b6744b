import { locationOf, type ValueNode } from '../../build-files/index.js';
import type { Location } from '../../core/index.js';
import type { ComputeContext } from '../../engine/index.js';
import { BuildFileKey, type Target, type Project } from '../../targets/index.js';

/**
 * Where a field of a target is written in its BUILD file, for errors found
 * after the target was read (a tool that cannot be found, an unsupported
 * value): the list element equal to `item` when given, else the value, else
 * the target's call. Targets keep only the call's position, so the parse
 * (memoized by the engine) is consulted again here, on the error path only.
 */
export async function fieldLocation(
  reader: Pick<ComputeContext, 'get'>,
  project: Project,
  t: Target,
  field: string,
  item?: string,
): Promise<Location> {
  const fallback: Location = { file: t.buildFile, line: t.line, col: t.col };
  let syntax;
  try {
    syntax = await reader.get(new BuildFileKey(project, t.buildFile));
  } catch {
    return fallback;
  }
  const call = syntax.calls.find((c) => c.calleeSpan.line === t.line && c.calleeSpan.col === t.col);
  if (call === undefined) return fallback;
  const arg = call.args.find((a) => a.name === field);
  if (arg === undefined) return locationOf(syntax, call.calleeSpan);
  let node: ValueNode = arg.value;
  if (item !== undefined && (node.kind === 'list' || node.kind === 'tuple')) {
    node = node.items.find((i) => i.kind === 'str' && i.value === item) ?? node;
  }
  return locationOf(syntax, node.span);
}
