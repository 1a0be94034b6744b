import { formatAddress, stringListField, type Address } from '../../targets/index.js';
import type { RuleContext } from './rule-context.js';

/**
 * `a/BUILD:3:40: a:one -> a:two (\`execution_dependencies\` entry ":two")`:
 * where an edge of a cycle is written, found by resolving the address
 * fields of `from` again until one names `to`. Only on the error path.
 * When no field names `to` directly, the edge goes through targets whose
 * sources `from` takes (their `dependencies`), and the note says so.
 */
export async function cycleEdgeNote(rc: RuleContext, from: Address, to: string): Promise<string> {
  const edge = `${formatAddress(from)} -> ${to}`;
  const t = await rc.target(from).catch(() => undefined);
  if (t === undefined) return edge;
  const type = rc.project.types.get(t.type);
  const fields = type === undefined ? [] : rc.project.types.fieldsOf(type).filter((f) => f.type.kind === 'dependencies');
  for (const field of fields) {
    for (const raw of stringListField(t, field.name)) {
      if (raw.startsWith('!')) continue;
      const named = await rc.addressField(t, field.name, [raw]).catch(() => []);
      if (!named.some((a) => formatAddress(a) === to)) continue;
      const l = await rc.fieldLocation(t, field.name, raw);
      return `${l.file}:${l.line ?? t.line}:${l.col ?? t.col}: ${edge} (\`${field.name}\` entry ${JSON.stringify(raw)})`;
    }
  }
  return `${t.buildFile}:${t.line}:${t.col}: ${edge} (through the dependencies of what it names)`;
}
