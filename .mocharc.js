'use strict';
// One mocha run over every layer: unit (pure core and simulator), nodes (node-red-node-test-helper),
// e2e (a real node-red process loading the packed package). `npm test` builds first.
// Files named on the command line (`npx mocha test/unit/x.test.ts`) replace the default spec instead of being
// added to it (mocha merges both otherwise).
const cliFiles = process.argv.slice(2).filter((a) => !a.startsWith('-') && /\.(ts|js)$/.test(a));
const defaultSpec = ['test/unit/**/*.test.ts', 'test/nodes/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/reliability/**/*.test.ts'];

module.exports = {
  require: ['tsx/cjs'],
  extension: ['ts'],
  ...(cliFiles.length ? {} : { spec: process.env.MOCHA_SPEC ? process.env.MOCHA_SPEC.split(',') : defaultSpec }),
  timeout: 30000,
  exit: true,
  reporter: 'spec',
};
