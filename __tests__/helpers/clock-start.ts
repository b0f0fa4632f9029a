// Preloaded (--import) into a process that a test starts: its Date.now() starts at CLOCK_START_MS and
// runs on from there, so that a prune in it sees the test's clock (see ageData in prune.test.ts).
const start = Number(process.env.CLOCK_START_MS)
if (process.env.CLOCK_START_MS && Number.isFinite(start)) {
  const systemNow = Date.now
  const shift = start - systemNow()
  Date.now = () => systemNow() + shift
}
