// The plain closing line CI reads: "tests: N passed, N failed, N skipped". Written to
// $TEST_SUMMARY_FILE when set (scripts/test.sh prints it last), else to stdout.
const { appendFileSync } = require('node:fs')

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites
    const line = `tests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`
    if (process.env.TEST_SUMMARY_FILE) appendFileSync(process.env.TEST_SUMMARY_FILE, line)
    else process.stdout.write(`\n${line}`)
  }
}
module.exports = SummaryReporter
