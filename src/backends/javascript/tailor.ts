import { basenameRel } from '../../core/index.js';
import type { TailorProvider } from '../api/index.js';
import { PACKAGE_JSON } from './target-types.js';
import { JsWorkspaceKey } from './workspace.js';

/**
 * `package_json()` in each workspace package's directory. It declares the
 * package's inferred target with no field of its own, so it extends it and
 * changes nothing; the package's scripts and its per-file targets
 * (`javascript_source`, `javascript_test`) are generated from it, and keep
 * their addresses (`packages/a/src/x.ts:../a` names the package target).
 * A separate per-file generator (`typescript_sources(...)`, as Pants
 * writes) would need a target name of its own, so every file's address
 * would change: what the BUILD file holds would no longer be what
 * inference gave.
 */
export const javascriptTailor: TailorProvider = {
  name: 'javascript',
  async suggest(ctx, project) {
    const ws = await ctx.get(new JsWorkspaceKey(project.ws));
    return ws.packages.map((p) => ({ dir: p.dir, type: PACKAGE_JSON, name: p.dir === '' ? project.rootName : basenameRel(p.dir), text: `${PACKAGE_JSON}()` }));
  },
};
