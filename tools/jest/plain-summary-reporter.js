// Prints one plain closing line, "tests: N passed, N failed, N skipped", that CI reads in any
// language; Jest's own summary line has a different shape.
class PlainSummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`\ntests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
module.exports = PlainSummaryReporter;
