import type { TestCase } from '../../api/index.js';
import { badReport } from './bad-report.js';
import type { ReportContext } from './report-paths.js';
import type { JsTestCommand, JsTestCommandOptions, JsTestRunner } from './runner.js';

/** mocha, run as `mocha <files>` with its json reporter writing to the report file (mocha has one reporter at a time). */
export const mochaRunner: JsTestRunner = {
  name: 'mocha',
  packageName: 'mocha',
  supportsCoverage: false,
  command(files: readonly string[], opts: JsTestCommandOptions): JsTestCommand {
    const argv = ['mocha', '--reporter=json', `--reporter-option=output=${opts.reportFile}`, ...(opts.extraArgs ?? []), '--', ...files];
    return { argv, env: {}, sandboxFiles: {}, outputFiles: [opts.reportFile] };
  },
  parseReport(_text: string, _ctx: ReportContext): readonly TestCase[] {
    throw badReport('mocha', 'not implemented yet');
  },
};
