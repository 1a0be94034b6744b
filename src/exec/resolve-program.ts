import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { failure, type Failure, type Result, err, ok } from '../core/index.js';

/**
 * What glibc's execvp searches when PATH is unset (confstr(_CS_PATH)). A
 * process gets only the env its rule gives it, so this is what an unset PATH
 * means inside the sandbox too, not trews' own PATH.
 */
export const DEFAULT_EXEC_PATH = '/bin:/usr/bin';

/**
 * Finds the path execvp would execute for `program` (relative ones are
 * relative to `cwd`, where the process will run), searching the process's
 * own PATH (never trews'): a name containing '/' is taken as a path (relative
 * to `cwd`, the process's working directory); otherwise each PATH entry is
 * tried in order, an empty entry meaning `cwd`. An entry that exists but is
 * not executable is skipped, as execvp does, and reported if nothing else
 * matches. We resolve it ourselves rather than leave it to spawn() because
 * libuv searches the PATH of the environment it is given only on some
 * versions, and because a missing tool deserves a message naming the PATH.
 */
export async function resolveProgram(program: string, envPath: string | undefined, cwd: string): Promise<Result<string>> {
  if (program.includes('/')) {
    // Kept as written, so a script's interpreter sees the same $0 as under execvp.
    const abs = isAbsolute(program) ? program : resolve(cwd, program);
    const why = await executableProblem(abs);
    if (why === undefined) return ok(program);
    return err(notFound(program, why === 'missing' ? `${abs} does not exist` : `${abs} ${why}`, undefined));
  }
  const path = envPath ?? DEFAULT_EXEC_PATH;
  let denied: string | undefined;
  for (const entry of path.split(':')) {
    // What execvp would hand to execve. An empty entry is the working
    // directory; './' keeps the result a path (a bare name would make spawn
    // search a PATH again).
    const candidate = entry === '' ? `./${program}` : join(entry, program);
    const why = await executableProblem(resolve(cwd, candidate));
    if (why === undefined) return ok(candidate);
    if (why !== 'missing' && denied === undefined) denied = `${candidate} ${why}`;
  }
  return err(notFound(program, denied, envPath === undefined ? `${path} (PATH is not set in the process's env; this is execvp's default)` : path));
}

/** undefined when `p` is an executable regular file. */
async function executableProblem(p: string): Promise<string | undefined> {
  try {
    const st = await stat(p);
    if (st.isDirectory()) return 'is a directory';
    if (!st.isFile()) return 'is not a regular file';
    await access(p, constants.X_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return 'is not executable';
    return 'missing';
  }
}

function notFound(program: string, detail: string | undefined, searched: string | undefined): Failure {
  const notes: string[] = [];
  if (searched !== undefined) notes.push(`PATH searched: ${searched}`);
  if (detail !== undefined) notes.push(detail);
  return failure('environment', 'program-not-found', `cannot run \`${program}\`: no executable found`, {
    notes,
    hints: [
      searched !== undefined
        ? `install \`${program}\`, or make the rule's process env set a PATH that contains it (processes do not inherit trews' PATH)`
        : `check that \`${program}\` exists in the input root and is executable`,
    ],
  });
}
