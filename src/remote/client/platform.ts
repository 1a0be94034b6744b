import { compareUtf8 } from '../../reapi/index.js';
import { makeProcess, type PlatformProperty, type Process } from '../../exec/index.js';

/**
 * The platform a process asks of a remote worker: the global
 * `remote_execution_extra_platform_properties`, overridden by the
 * process's own `Process.platform` (filled by backends, e.g. from a
 * target field) for every name it sets — a target that needs
 * `container-image=…` replaces the global image rather than adding a
 * second, contradictory one. Names a process sets several times (a
 * multi-valued property) are all kept. Sorted by name then value, in
 * UTF-8 order: the canonical order of Action.platform and Command.platform.
 */
export function mergePlatform(extra: readonly PlatformProperty[], own: readonly PlatformProperty[]): PlatformProperty[] {
  const ownNames = new Set(own.map((p) => p.name));
  const merged = [...extra.filter((p) => !ownNames.has(p.name)), ...own];
  const seen = new Set<string>();
  const unique = merged.filter((p) => {
    const k = `${p.name}\0${p.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.sort((a, b) => compareUtf8(a.name, b.name) || compareUtf8(a.value, b.value));
}

/**
 * The process as executed remotely: with the merged platform, which
 * toAction puts in both Action.platform and Command.platform, so its digest
 * is the key the server executes and caches under.
 */
export function forRemote(proc: Process, extra: readonly PlatformProperty[]): Process {
  if (extra.length === 0) return proc;
  return makeProcess({ ...proc, platform: mergePlatform(extra, proc.platform) });
}
