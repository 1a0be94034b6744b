import type { Isolation } from '../../exec/index.js';
import { SANDBOX_SCOPE } from '../../options/index.js';
import type { FieldSpec, Target } from '../../targets/index.js';
import type { RuleContext } from './rule-context.js';

/** `sandbox_isolation`: a target's override of `[sandbox] isolation`. */
export const sandboxIsolationField: FieldSpec = {
  name: 'sandbox_isolation',
  type: { kind: 'enum', choices: ['none', 'strict'] },
  default: null,
  help: 'How much of the machine its process sees: `strict` only its inputs, tools and the system directories (Linux, bubblewrap); `none` everything. Unset: `[sandbox] isolation`. Part of the cache key.',
};

/** `network`: whether a strictly isolated process keeps the network. */
export const networkField: FieldSpec = {
  name: 'network',
  type: { kind: 'bool' },
  default: false,
  help: 'Under strict isolation, let the process use the network (it has none otherwise). Part of the cache key of strict processes; an unconfined process has the network anyway.',
};

/** The isolation (and network) of the process a target runs: its fields, else `[sandbox] isolation`. */
export async function isolationOf(rc: RuleContext, t: Target): Promise<{ readonly isolation: Isolation; readonly network: boolean }> {
  const own = t.fields['sandbox_isolation'];
  const isolation: Isolation = own === 'strict' || own === 'none' ? own : (await rc.options(SANDBOX_SCOPE)).enum<Isolation>('isolation');
  return { isolation, network: t.fields['network'] === true };
}
