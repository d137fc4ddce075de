'use strict';
// One mocha run over every layer: unit (pure core and simulator), nodes (node-red-node-test-helper),
// e2e (a real node-red process loading the packed package). `npm test` builds first.
module.exports = {
  require: ['tsx/cjs'],
  extension: ['ts'],
  spec: process.env.MOCHA_SPEC ? process.env.MOCHA_SPEC.split(',') : ['test/unit/**/*.test.ts', 'test/nodes/**/*.test.ts', 'test/e2e/**/*.test.ts'],
  timeout: 30000,
  exit: true,
  reporter: 'spec',
};
