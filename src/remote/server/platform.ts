import type { PlatformProperty } from '../../exec/index.js';
import { failedPrecondition } from './rpc-error.js';

/**
 * Whether this server's workers (all alike: they share `--platform`) can run
 * an action. REAPI leaves the meaning of properties to the server; ours is
 * the strictest common one — each property the action asks for must be
 * offered with exactly that value (a name may be offered with several
 * values, e.g. two ISAs). An action asking for nothing runs anywhere.
 *
 * The spec says a server SHOULD reject unknown property names, and lists
 * "no worker being available" under FAILED_PRECONDITION; the message names
 * the first property that cannot be satisfied and what is offered.
 */
export function checkPlatform(required: readonly PlatformProperty[], offered: readonly PlatformProperty[]): void {
  for (const want of required) {
    if (offered.some((p) => p.name === want.name && p.value === want.value)) continue;
    const sameName = offered.filter((p) => p.name === want.name).map((p) => p.value);
    const offer = offered.length === 0 ? 'it offers no platform properties' : `it offers ${offered.map((p) => `${p.name}=${p.value}`).join(', ')}`;
    const why =
      sameName.length > 0
        ? `this server's workers have ${want.name}=${sameName.join(' or ')}`
        : `this server's workers have no property ${JSON.stringify(want.name)}`;
    throw failedPrecondition(
      `no worker satisfies the action's platform property ${want.name}=${want.value}: ${why} (${offer}; start the server with --platform ${want.name}=${want.value} if its workers have it)`,
    );
  }
}
