import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order test files start in, for `npm test` on a 2-core machine: the longest first, so the run ends
 * with short files filling the gaps rather than with one long file alone. Vitest's own order (projects by
 * name, then the durations it remembers, else file size) knows no durations on a fresh clone (CI), where
 * it would start the browser files first, the two-minute model test late and the unit files last. So:
 * the files named in LONGEST (measured), then e2e, browser, store, unit, each in Vitest's own order.
 */
const LONGEST = [
  // Measured in `bash .ci/run` on a busy 2-core machine (seconds): 116, 113, 111, 63, 61, 46, 39, 31, 30, 11.
  'packages/broker/test/model.test.ts',
  'packages/cli/src/wallet-cli.test.ts',
  'packages/cli/src/vendor-processes.test.ts',
  'packages/cli/test/quickstart.test.ts', // 53 s alone, 108 s beside another run (pack, install, page, demo)
  'packages/web/test/portal.test.ts',
  'packages/cli/src/demo.test.ts',
  'packages/cli/src/vendor-cli.test.ts',
  'packages/db/src/db.test.ts',
  'packages/gate/test/adapters.test.ts',
  'packages/cli/src/broker-cli.test.ts',
  'packages/protocol/src/traversal.test.ts',
];
const PROJECTS = ['e2e', 'browser', 'store', 'unit'];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const own = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const named = LONGEST.indexOf(relative(this.ctx.config.root, spec.moduleId).replaceAll('\\', '/'));
      if (named >= 0) return named;
      const project = PROJECTS.indexOf(spec.project.name);
      return LONGEST.length + (project >= 0 ? project : PROJECTS.length);
    };
    // Array.prototype.sort is stable: within one rank, Vitest's own order stays.
    return own.sort((a, b) => rank(a) - rank(b));
  }
}
