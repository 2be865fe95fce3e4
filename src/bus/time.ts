/**
 * The timestamp formats of tickflow's topics, all UTC: `prices` writes `yyyy-mm-dd hh:mm:ss.fff`,
 * `orders` writes `yyyy/mm/dd, hh:mm:ss`. Formatting runs millions of times a second in the feeds,
 * parsing as often in the readers, so both work on digits and never build a Date.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

const MS_PER_DAY = 86_400_000
const MIN_TS_MS = -62_167_219_200_000 // 0000-01-01 00:00:00.000
const MAX_TS_MS = 253_402_300_799_999 // 9999-12-31 23:59:59.999

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))

/** Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** `yyyy-mm-dd` of a day number (Hinnant's `civil_from_days`). */
function civilDate(days: number): string {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
  return PAD2[Math.floor(y / 100)] + PAD2[y % 100] + '-' + PAD2[m] + '-' + PAD2[d]
}

// Feeds format runs of timestamps from the same second, so the `yyyy-mm-dd hh:mm:ss.` prefix of
// the last second (and the date of the last day) is cached; a hit costs one concatenation.
let cachedSecond = NaN
let cachedSecondPrefix = ''
let cachedDay = NaN
let cachedDayPrefix = ''

/**
 * Formats epoch ms as `yyyy-mm-dd hh:mm:ss.fff` UTC, truncating a fraction as `new Date(ms)` does.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `ms` is not finite or outside years 0000–9999
 */
export function formatPriceTs(ms: number): string {
  const t = Math.trunc(ms)
  if (!(t >= MIN_TS_MS && t <= MAX_TS_MS)) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `timestamp ${ms} is outside years 0000-9999`)
  }
  const second = Math.floor(t / 1000)
  const millis = t - second * 1000
  if (second !== cachedSecond) {
    const day = Math.floor(t / MS_PER_DAY)
    if (day !== cachedDay) {
      cachedDay = day
      cachedDayPrefix = civilDate(day) + ' '
    }
    const s = second - day * 86400
    const h = Math.floor(s / 3600)
    const mi = Math.floor((s - h * 3600) / 60)
    cachedSecondPrefix = cachedDayPrefix + PAD2[h] + ':' + PAD2[mi] + ':' + PAD2[s - h * 3600 - mi * 60] + '.'
    cachedSecond = second
  }
  return cachedSecondPrefix + PAD3[millis]
}

function readDigits(s: string, start: number, len: number): number {
  let v = 0
  for (let i = start; i < start + len; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
}

/** Parses `yyyy-mm-dd hh:mm:ss.fff` UTC strictly (layout, digits, real date and time) to epoch ms. */
export function parsePriceTs(s: string): number | undefined {
  if (typeof s !== 'string' || s.length !== 23) return undefined
  if (
    s.charCodeAt(4) !== 0x2d || // -
    s.charCodeAt(7) !== 0x2d ||
    s.charCodeAt(10) !== 0x20 || // space
    s.charCodeAt(13) !== 0x3a || // :
    s.charCodeAt(16) !== 0x3a ||
    s.charCodeAt(19) !== 0x2e // .
  ) {
    return undefined
  }
  const y = readDigits(s, 0, 4)
  const m = readDigits(s, 5, 2)
  const d = readDigits(s, 8, 2)
  const h = readDigits(s, 11, 2)
  const mi = readDigits(s, 14, 2)
  const sec = readDigits(s, 17, 2)
  const ms = readDigits(s, 20, 3)
  if (y < 0 || m < 1 || m > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) {
    return undefined
  }
  if (d > (m === 2 && isLeapYear(y) ? 29 : DAYS_IN_MONTH[m])) return undefined
  return daysFromCivil(y, m, d) * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms
}

/** `yyyy/mm/dd, hh:mm:ss` UTC (the `orders` topic). @throws TICKFLOW_ERR_INVALID_ARGUMENT outside years 0000–9999 */
export function formatOrderTs(ms: number): string {
  const s = formatPriceTs(ms)
  return s.slice(0, 4) + '/' + s.slice(5, 7) + '/' + s.slice(8, 10) + ', ' + s.slice(11, 19)
}

/** Parses `yyyy/mm/dd, hh:mm:ss` UTC strictly to epoch ms. */
export function parseOrderTs(s: string): number | undefined {
  if (typeof s !== 'string' || s.length !== 20) return undefined
  if (s.charCodeAt(4) !== 0x2f || s.charCodeAt(7) !== 0x2f || s.charCodeAt(10) !== 0x2c) return undefined
  return parsePriceTs(s.slice(0, 4) + '-' + s.slice(5, 7) + '-' + s.slice(8, 10) + s.slice(11) + '.000')
}
