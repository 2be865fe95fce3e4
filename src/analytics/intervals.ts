/**
 * Bar intervals: parsing `"1s"`, `"1m"`, `"5m"`, `"1h"`, `"1d"`, … into milliseconds, and the
 * canonical label used in topic names (`bars.<label>`). The label names the interval in its largest
 * whole unit, so `"60s"`, `"1min"` and `"60000ms"` are all `1m` and share one topic.
 *
 * Windows are aligned to the Unix epoch (UTC), so a `1d` bar is a UTC calendar day. There is no
 * week, month or year unit: months have no fixed length, and an epoch-aligned week would start on a
 * Thursday.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** A bar interval: its canonical label (e.g. `'1m'`) and its length in milliseconds. */
export interface BarInterval {
  label: string
  ms: number
}

/** The longest interval accepted: 366 days. */
export const MAX_INTERVAL_MS = 366 * 86_400_000

// Largest first: the canonical label uses the first unit that divides the length exactly.
const LABEL_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
]

// Accepted spellings; `min` is pandas' spelling of minutes.
const UNIT_MS: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['min', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
])

const EXPECTED = 'expected a whole number and a unit (ms, s, m, h, d), e.g. "1s", "1m", "5m", "1h", "1d"'

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_ARGUMENT, message)
}

/**
 * The canonical label of an interval of `ms` milliseconds: the count in the largest unit that
 * divides it (`60000` → `'1m'`, `90000` → `'90s'`, `86400000` → `'1d'`).
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `ms` is not a whole number in [1, {@link MAX_INTERVAL_MS}]
 */
export function intervalLabel(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_INTERVAL_MS) {
    throw invalid(`invalid bar interval length ${ms} ms: expected a whole number of ms in [1, ${MAX_INTERVAL_MS}]`)
  }
  for (const [unit, unitMs] of LABEL_UNITS) {
    if (ms % unitMs === 0) return `${ms / unitMs}${unit}`
  }
  // Unreachable: every whole number is a multiple of 1 ms.
  return `${ms}ms`
}

/**
 * Parses one interval such as `"1m"`, `"5m"`, `"250ms"`, `"90s"` or `"1min"` (surrounding spaces
 * ignored; units are case-sensitive, so `"1M"` is rejected rather than read as a month or minute).
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT on anything else, with a message saying what was expected
 */
export function parseInterval(text: string): BarInterval {
  const t = text.trim()
  const m = /^(\d+)([A-Za-z]+)$/.exec(t)
  if (m === null) {
    if (t === '') throw invalid(`empty bar interval: ${EXPECTED}`)
    if (/^\d*\.\d+[A-Za-z]+$/.test(t)) {
      throw invalid(`invalid bar interval "${t}": the count must be a whole number (write "90s", not "1.5m")`)
    }
    throw invalid(`invalid bar interval "${t}": ${EXPECTED}`)
  }
  const [, digits, unit] = m
  const unitMs = UNIT_MS.get(unit)
  if (unitMs === undefined) {
    const hint = unit === 'M' || unit === 'mo' ? ' (months have no fixed length; minutes are "m")' : ''
    throw invalid(`invalid bar interval "${t}": unknown unit "${unit}"${hint}; ${EXPECTED}`)
  }
  // Digit strings this long overflow any sane interval; checking the length first keeps Number exact.
  const count = digits.length > 12 ? Infinity : Number(digits)
  const ms = count * unitMs
  if (ms < 1) throw invalid(`invalid bar interval "${t}": the length must be at least 1ms`)
  if (ms > MAX_INTERVAL_MS) throw invalid(`invalid bar interval "${t}": the longest interval is 366d`)
  return { label: intervalLabel(ms), ms }
}

/**
 * Parses a comma-separated list such as `"1s,1m,5m"`: sorted by length, shortest first, with
 * intervals of equal length (`"60s,1m"`) kept once.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when the list or any item is empty or invalid
 */
export function parseIntervals(list: string): BarInterval[] {
  if (list.trim() === '') throw invalid(`empty list of bar intervals: ${EXPECTED}`)
  const byMs = new Map<number, BarInterval>()
  for (const item of list.split(',')) {
    if (item.trim() === '') throw invalid(`empty item in the list of bar intervals "${list}"`)
    const interval = parseInterval(item)
    if (!byMs.has(interval.ms)) byMs.set(interval.ms, interval)
  }
  return [...byMs.values()].sort((a, b) => a.ms - b.ms)
}
