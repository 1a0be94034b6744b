import { posix } from 'node:path';
import type { TestCase } from '../../api/index.js';
import { coverageDirFor } from './coverage-dir.js';
import { parseJestJsonReport } from './jest-json.js';
import type { ReportContext } from './report-paths.js';
import type { JsTestCommand, JsTestCommandOptions, JsTestRunner } from './runner.js';

/**
 * jest, run as `jest --runTestsByPath <files>` (paths, not the regular expressions its
 * operands otherwise are): its reporter on stderr for humans, `--json` to the report file,
 * lcov when asked.
 */
export const jestRunner: JsTestRunner = {
  name: 'jest',
  packageName: 'jest',
  supportsCoverage: true,
  command(files: readonly string[], opts: JsTestCommandOptions): JsTestCommand {
    const argv = ['jest', '--ci', '--json', `--outputFile=${opts.reportFile}`];
    const outputFiles = [opts.reportFile];
    let coverageFile: string | undefined;
    if (opts.coverageFile !== undefined) {
      const dir = coverageDirFor(opts.coverageFile);
      coverageFile = posix.join(dir, 'lcov.info');
      argv.push('--coverage', '--coverageReporters=lcovonly', `--coverageDirectory=${dir}`);
      outputFiles.push(coverageFile);
    }
    argv.push(...(opts.extraArgs ?? []), '--runTestsByPath', ...files.map((f) => (f.startsWith('-') ? `./${f}` : f)));
    return { argv, env: {}, sandboxFiles: {}, outputFiles, ...(coverageFile !== undefined ? { coverageFile } : {}) };
  },
  parseReport(text: string, ctx: ReportContext): readonly TestCase[] {
    return parseJestJsonReport('jest', text, ctx);
  },
};
