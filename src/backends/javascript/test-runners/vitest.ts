import { posix } from 'node:path';
import type { TestCase } from '../../api/index.js';
import { coverageDirFor } from './coverage-dir.js';
import { parseJestJsonReport } from './jest-json.js';
import type { ReportContext } from './report-paths.js';
import type { JsTestCommand, JsTestCommandOptions, JsTestRunner } from './runner.js';

/**
 * vitest, run as `vitest run <files>`: the default reporter on stdout for humans, the json
 * reporter (jest's format) to the report file, v8 coverage as lcov when asked.
 */
export const vitestRunner: JsTestRunner = {
  name: 'vitest',
  packageName: 'vitest',
  supportsCoverage: true,
  command(files: readonly string[], opts: JsTestCommandOptions): JsTestCommand {
    const argv = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${opts.reportFile}`];
    const outputFiles = [opts.reportFile];
    let coverageFile: string | undefined;
    if (opts.coverageFile !== undefined) {
      const dir = coverageDirFor(opts.coverageFile);
      coverageFile = posix.join(dir, 'lcov.info');
      // reportOnFailure: vitest writes no coverage when a test fails unless told to, and a failing run's coverage still counts.
      // clean=false: vitest would otherwise delete the whole directory first, the report's neighbours with it.
      argv.push('--coverage.enabled=true', '--coverage.reporter=lcovonly', `--coverage.reportsDirectory=${dir}`, '--coverage.reportOnFailure=true', '--coverage.clean=false');
      outputFiles.push(coverageFile);
    }
    // Operands are filters (substrings of the path relative to the root), and vitest drops those after `--`.
    argv.push(...(opts.extraArgs ?? []), ...files.map(asOperand));
    return { argv, env: {}, sandboxFiles: {}, outputFiles, ...(coverageFile !== undefined ? { coverageFile } : {}) };
  },
  parseReport(text: string, ctx: ReportContext): readonly TestCase[] {
    return parseJestJsonReport('vitest', text, ctx);
  },
};

/** A file named `-x.test.js` would read as a flag; `./` keeps it a filter vitest matches. */
function asOperand(file: string): string {
  return file.startsWith('-') ? `./${file}` : file;
}
