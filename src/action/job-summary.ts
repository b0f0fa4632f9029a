import * as core from '@actions/core'

/** Appends a two-column table to the job summary; a summary that cannot be written is only logged. */
export async function writeSummaryTable(title: string, rows: Array<[string, string]>): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  try {
    await core.summary
      .addHeading(title, 3)
      .addTable([
        [
          { data: 'what', header: true },
          { data: 'value', header: true }
        ],
        ...rows
      ])
      .write()
  } catch (error) {
    core.debug(`job summary not written: ${String(error)}`)
  }
}

export async function writeSummaryGrid(title: string, header: string[], rows: string[][]): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  try {
    await core.summary
      .addHeading(title, 3)
      .addTable([header.map(data => ({ data, header: true })), ...rows])
      .write()
  } catch (error) {
    core.debug(`job summary not written: ${String(error)}`)
  }
}
