import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { materializeTree, EMPTY_TREE_DIGEST } from '../../store/index.js';
import { stringField } from '../../targets/index.js';
import { digestEquals } from '../../core/index.js';
import { provide, resolveSystemBinary, resolveTool, RUN, sandboxInputs, type TargetRules } from '../api/index.js';
import { executionRoots, workdirOf } from './sandboxed-command.js';

/**
 * `trews run` of a run_shell_command: bash runs the command in the
 * workspace (at `workdir`), with the client's environment, attached to the
 * client's terminal. As in Pants, the execution dependencies are built
 * first and written to a temporary directory, named by `$CHROOT` and by
 * `{chroot}` in the command; it is removed when the command ends.
 */
export const runShellCommandRules: TargetRules = {
  sandbox: { opaque: true },
  provides: [
    provide(RUN, async (rc, t, { args, env }) => {
      const [bash, workdir, roots] = await Promise.all([
        resolveTool(rc, 'bash', t, 'command'),
        workdirOf(rc, t),
        executionRoots(rc, t),
      ]);
      const inputs = await sandboxInputs(rc, roots);
      const chroot = await mkdtemp(join(tmpdir(), 'trews-run-'));
      try {
        if (!digestEquals(inputs, EMPTY_TREE_DIGEST)) await materializeTree(rc.store, inputs, chroot, { mode: 'copy', signal: rc.signal });
      } catch (e) {
        await rm(chroot, { recursive: true, force: true });
        throw e;
      }
      const command = (stringField(t, 'command') ?? '').replaceAll('{chroot}', chroot);
      return {
        argv: [bash.path, '-c', command, t.address, ...args],
        env: { ...env, CHROOT: chroot },
        cwd: join(rc.root, workdir),
        cleanup: () => rm(chroot, { recursive: true, force: true }),
      };
    }),
  ],
};

/** `trews run` of a system_binary: the binary it finds, with the arguments after `--`, from the build root. */
export const systemBinaryRules: TargetRules = {
  sandbox: { opaque: true },
  provides: [
    provide(RUN, async (rc, t, { args, env }) => {
      const tool = await resolveSystemBinary(rc, t);
      return { argv: [tool.path, ...args], env: { ...env }, cwd: rc.root };
    }),
  ],
};
