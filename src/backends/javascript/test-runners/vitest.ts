import { posix } from 'node:path';
import type { TestCase } from '../../api/index.js';
import { badReport } from './bad-report.js';
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
      const dir = posix.dirname(opts.coverageFile);
      coverageFile = posix.join(dir, 'lcov.info');
      argv.push('--coverage.enabled=true', '--coverage.reporter=lcovonly', `--coverage.reportsDirectory=${dir}`);
      outputFiles.push(coverageFile);
    }
    argv.push(...(opts.extraArgs ?? []), '--', ...files);
    return { argv, env: {}, sandboxFiles: {}, outputFiles, ...(coverageFile !== undefined ? { coverageFile } : {}) };
  },
  parseReport(_text: string, _ctx: ReportContext): readonly TestCase[] {
    throw badReport('vitest', 'not implemented yet');
  },
};
