import { formatBytes, formatRetries, progressPrinter } from '../../src/core/report-format.js'

describe('report format', () => {
  test('byte counts and rates are rounded: whole bytes, one decimal above', () => {
    expect(formatBytes(44.11764705882353)).toBe('44 B')
    expect(formatBytes(0.4)).toBe('0 B')
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(1234.5678)).toBe('1.2 KB')
    expect(formatBytes(23_600_000)).toBe('23.6 MB')
  })

  test('a progress line prints a rounded rate, even for a slow transfer', () => {
    const lines: string[] = []
    const report = progressPrinter('Downloaded', line => lines.push(line))
    report({ bytesDone: 3, bytesTotal: 17, bytesTransferred: 1 })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Downloaded 1 B; 3 B of 17 B \(17%\) processed at \d+(\.\d)? (B|KB)\/s$/)
  })

  test('retries are noted only when there were some', () => {
    expect(formatRetries(0)).toBe('')
    expect(formatRetries(1)).toBe('; 1 request retried')
    expect(formatRetries(12)).toBe('; 12 requests retried')
  })
})
