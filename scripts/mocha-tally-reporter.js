// Mocha's spec reporter, plus a tally for scripts/run-tests.js: when TEST_TALLY_FILE is set, the
// run's passed / failed / pending counts are appended to it as one JSON line.
// Usage: mocha --reporter ./scripts/mocha-tally-reporter.js ...
'use strict';
const fs = require('fs');
const Mocha = require('mocha');

/** Appends `{passes, failures, pending}` of a finished run to TEST_TALLY_FILE (no-op when unset). */
function writeTally(stats) {
  const file = process.env.TEST_TALLY_FILE;
  if (!file) return;
  fs.appendFileSync(file, `${JSON.stringify({ passes: stats.passes, failures: stats.failures, pending: stats.pending })}\n`);
}

class TallyReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => writeTally(runner.stats));
  }
}

module.exports = TallyReporter;
module.exports.writeTally = writeTally;
