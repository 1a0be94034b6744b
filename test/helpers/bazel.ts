import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Debian's bazel-bootstrap (4.2.3) is on PATH: the Bazel interop tests run only then. */
export const hasBazel = spawnSync('bazel', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Runs `bazel` in workspace `ws` with its output root under `dir` (so the test
 * leaves nothing in the user's cache), stdout and stderr together; killed
 * after four minutes, which fails the test with what it printed.
 */
export function runBazel(dir: string, ws: string, env: Record<string, string>, args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bazel', [`--output_user_root=${join(dir, 'bazel-root')}`, ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bazel ${args.join(' ')} timed out\n${out}`));
    }, 240_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}
