import type { Target } from '../../targets/index.js';
import type { RuleContext } from './rule-context.js';

/** The `[test]` options a test rule honours (the test goal registers them, and lets rules read them). */
export interface TestSettings {
  /** `--test-force`: run even when a cached result exists (cache scope per-run). */
  readonly force: boolean;
  readonly timeoutsEnabled: boolean;
  readonly timeoutDefaultS: number | null;
  readonly timeoutMaximumS: number | null;
}

export async function testSettings(rc: RuleContext): Promise<TestSettings> {
  const o = await rc.options('test');
  return { force: o.bool('force'), timeoutsEnabled: o.bool('timeouts'), timeoutDefaultS: o.maybeInt('timeout_default'), timeoutMaximumS: o.maybeInt('timeout_maximum') };
}

/** `timeout` of the target, else `[test] timeout_default`, capped by `[test] timeout_maximum`; none when `[test] timeouts` is off (as Pants). */
export function testTimeoutS(t: Target, s: TestSettings): number | null {
  if (!s.timeoutsEnabled) return null;
  const v = t.fields['timeout'];
  const own = (typeof v === 'number' ? v : null) ?? s.timeoutDefaultS;
  if (own === null) return null;
  return s.timeoutMaximumS === null ? own : Math.min(own, s.timeoutMaximumS);
}
