import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failure, FailureError, toRelPath, type Digest } from '../../core/index.js';
import { listTree, mergeTrees, treeFromFiles } from '../../store/index.js';
import { stringField, type Target } from '../../targets/index.js';
import { PACKAGE, provide, sandboxInputs, type BuiltPackage, type RuleContext, type TargetRules } from '../api/index.js';
import { ARCHIVE_EXTENSIONS, writeArchive, type ArchiveFormat } from './archive-writer.js';

/** Pants' default output path: the BUILD directory with dots for slashes, then `name.ext`. */
export function defaultOutputPath(t: Target, ext: string): string {
  const file = `${t.addr.name}.${ext}`;
  return t.addr.dir === '' ? file : `${t.addr.dir.replaceAll('/', '.')}/${file}`;
}

async function outputPathOf(rc: RuleContext, t: Target, ext: string): Promise<string> {
  const raw = stringField(t, 'output_path');
  if (raw === null) return defaultOutputPath(t, ext);
  const rel = raw.startsWith('/') ? undefined : toRelPath(raw);
  if (rel === undefined || rel === '') {
    throw new FailureError(
      failure('input', 'bad-output-path', `\`output_path\` of ${t.address} (\`${raw}\`) must be a file path inside the dist directory`, {
        location: await rc.fieldLocation(t, 'output_path'),
      }),
    );
  }
  return rel;
}

/**
 * The archive's content is its `files` (with what they depend on) at their
 * paths from the build root, and its `packages` at their output paths. The
 * archive is written here, in-process, from the store (see archive-writer.ts),
 * then stored; it needs no tool on the machine.
 */
async function buildArchive(rc: RuleContext, t: Target): Promise<BuiltPackage> {
  const format = (stringField(t, 'format') ?? 'tar') as ArchiveFormat;
  const [files, packages, outputPath] = await Promise.all([
    rc.addressField(t, 'files'),
    rc.addressField(t, 'packages'),
    outputPathOf(rc, t, ARCHIVE_EXTENSIONS[format]),
  ]);
  const packageTargets = await rc.targets(packages);
  for (const p of packageTargets) {
    if (!rc.ruleEnv.rules.provides(p.type, PACKAGE)) {
      throw new FailureError(
        failure('input', 'not-packageable', `\`packages\` of ${t.address} names ${p.address}, a \`${p.type}\`, which is not packageable`, {
          location: await rc.fieldLocation(t, 'packages'),
          hints: ['put files and command outputs in `files`; `packages` takes targets `trews package` can build (archives)'],
        }),
      );
    }
  }
  const trees: Digest[] = await Promise.all([sandboxInputs(rc, files), ...packageTargets.map(async (p) => (await rc.serve(PACKAGE, p, undefined)).tree)]);
  const content = await mergeTrees(rc.store, trees, rc.signal);
  const entries = await listTree(rc.store, content, rc.signal);
  const tmp = join(tmpdir(), `trews-archive-${randomBytes(8).toString('hex')}`);
  let digest: Digest;
  try {
    await writeArchive(rc.store, entries, format, tmp, rc.signal);
    digest = await rc.store.putFile(tmp, rc.signal);
  } finally {
    await rm(tmp, { force: true });
  }
  const tree = await treeFromFiles(rc.store, [{ path: outputPath, digest, isExecutable: false }], rc.signal);
  return { tree, files: [outputPath] };
}

export const archiveRules: TargetRules = {
  sandbox: {
    // In a sandbox (an execution dependency), an archive is its package, at its output path from the build root.
    opaque: true,
    async contribute(rc, t) {
      return (await rc.serve(PACKAGE, t, undefined)).tree;
    },
  },
  provides: [provide(PACKAGE, buildArchive)],
};
