import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { daysFromCivil, formatOrderTs, formatPriceTs, parseOrderTs, parsePriceTs } from '../../src/bus/time.ts'

const T0 = Date.UTC(2021, 2, 10, 16, 21, 32)
const MIN_MS = -62_167_219_200_000 // 0000-01-01 00:00:00.000
const MAX_MS = 253_402_300_799_999 // 9999-12-31 23:59:59.999

/** A seeded uniform [0, 1) source (an LCG: enough to spread instants over the years). */
function lcg(seed: number): () => number {
  let x = seed
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32
}

/** The reference formatting, via Date. */
function isoTs(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

test('formatPriceTs pads every field and handles leap days, epoch edges and years 0–9999', () => {
  assert.equal(formatPriceTs(T0), '2021-03-10 16:21:32.000')
  assert.equal(formatPriceTs(0), '1970-01-01 00:00:00.000')
  assert.equal(formatPriceTs(-1), '1969-12-31 23:59:59.999')
  assert.equal(formatPriceTs(Date.UTC(2024, 1, 29, 1, 2, 3, 4)), '2024-02-29 01:02:03.004')
  assert.equal(formatPriceTs(Date.UTC(2024, 1, 29, 23, 59, 59, 999) + 1), '2024-03-01 00:00:00.000')
  assert.equal(formatPriceTs(Date.UTC(2000, 1, 29, 12, 0, 0, 10)), '2000-02-29 12:00:00.010')
  assert.equal(formatPriceTs(Date.UTC(1900, 1, 28, 23, 59, 59, 100) + 900), '1900-03-01 00:00:00.000')
  assert.equal(formatPriceTs(Date.UTC(2023, 11, 31, 23, 59, 59, 999)), '2023-12-31 23:59:59.999')
  assert.equal(formatPriceTs(-62_167_219_200_000), '0000-01-01 00:00:00.000')
  assert.equal(formatPriceTs(253_402_300_799_999), '9999-12-31 23:59:59.999')
  // Fractions truncate toward zero, like new Date(ms).
  assert.equal(formatPriceTs(T0 + 999.9), '2021-03-10 16:21:32.999')
  assert.equal(formatPriceTs(-0.5), '1970-01-01 00:00:00.000')
})

test('formatPriceTs agrees with Date on random instants, in and out of its per-second cache', () => {
  const next = lcg(12345)
  const span = MAX_MS - MIN_MS
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(-62_167_219_200_000 + next() * span)
    assert.equal(formatPriceTs(ms), isoTs(ms))
    // Same second, then the same time of day on another day: the cache must not serve stale text.
    assert.equal(formatPriceTs(ms + 1), isoTs(ms + 1))
    const other = ms > 0 ? ms - 86_400_000 : ms + 86_400_000
    assert.equal(formatPriceTs(other), isoTs(other))
  }
  for (let ms = T0 - 5000; ms < T0 + 5000; ms += 3) assert.equal(formatPriceTs(ms), isoTs(ms))
})

test('formatPriceTs refuses what it cannot format', () => {
  for (const ms of [NaN, Infinity, -Infinity, -62_167_219_200_001, 253_402_300_800_000]) {
    assert.throws(() => formatPriceTs(ms), { code: ErrorCodes.INVALID_ARGUMENT }, String(ms))
  }
})

test('parsePriceTs is the exact inverse of formatPriceTs', () => {
  const next = lcg(99)
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(-62_167_219_200_000 + next() * (253_402_300_799_999 + 62_167_219_200_000))
    assert.equal(parsePriceTs(formatPriceTs(ms)), ms)
  }
  assert.equal(parsePriceTs('2021-03-10 16:21:32.000'), T0)
  assert.equal(parsePriceTs('2024-02-29 00:00:00.000'), Date.UTC(2024, 1, 29))
  assert.equal(parsePriceTs('2000-02-29 23:59:59.999'), Date.UTC(2000, 1, 29, 23, 59, 59, 999))
  // Year 0 is a leap year in the proleptic Gregorian calendar (Date.UTC would read 0 as 1900).
  assert.equal(parsePriceTs('0000-02-29 00:00:00.000'), Date.parse('0000-02-29T00:00:00.000Z'))
  assert.equal(parsePriceTs('1969-12-31 23:59:59.999'), -1)
})

test('parsePriceTs rejects malformed strings', () => {
  const bad = [
    '',
    '2021-03-10 16:21:32',
    '2021-03-10 16:21:32.00',
    '2021-03-10 16:21:32.0000',
    ' 2021-03-10 16:21:32.000',
    '2021-03-10T16:21:32.000',
    '2021/03/10 16:21:32.000',
    '2021-03-10 16-21-32.000',
    '2021-03-10 16:21:32,000',
    '2021-13-10 16:21:32.000',
    '2021-00-10 16:21:32.000',
    '2021-03-00 16:21:32.000',
    '2021-04-31 16:21:32.000',
    '2023-02-29 16:21:32.000',
    '1900-02-29 16:21:32.000',
    '2021-03-32 16:21:32.000',
    '2021-03-10 24:00:00.000',
    '2021-03-10 16:60:32.000',
    '2021-03-10 16:21:60.000',
    '2021-03-1a 16:21:32.000',
    'abcd-ef-gh ij:kl:mn.opq',
    '2021-03-10 16:21:32.-01',
    '2021-03-10 16:21:3 .000',
    '+021-03-10 16:21:32.000',
    '２０２１-03-10 16:21:32.000'.slice(0, 23),
    '2021-03-10 16:21:32.000Z',
  ]
  for (const s of bad) assert.equal(parsePriceTs(s), undefined, JSON.stringify(s))
  assert.equal(parsePriceTs(12345 as unknown as string), undefined)
})

test('daysFromCivil counts days from 1970-01-01 like Date.UTC', () => {
  assert.equal(daysFromCivil(1970, 1, 1), 0)
  assert.equal(daysFromCivil(1969, 12, 31), -1)
  for (const [y, m, d] of [
    [2000, 2, 29],
    [2021, 3, 10],
    [1900, 3, 1],
    [1600, 2, 29],
    [9999, 12, 31],
    [100, 1, 1],
  ]) {
    assert.equal(daysFromCivil(y, m, d) * 86_400_000, Date.UTC(y, m - 1, d), `${y}-${m}-${d}`)
  }
})

/** The reference order timestamp, via Date. */
function isoOrderTs(ms: number): string {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}, ${iso.slice(11, 19)}`
}

test('formatOrderTs writes yyyy/mm/dd, hh:mm:ss UTC and drops the milliseconds', () => {
  assert.equal(formatOrderTs(Date.UTC(2023, 2, 12, 23, 48, 37)), '2023/03/12, 23:48:37')
  assert.equal(formatOrderTs(Date.UTC(2023, 2, 12, 23, 48, 37, 999)), '2023/03/12, 23:48:37')
  assert.equal(formatOrderTs(0), '1970/01/01, 00:00:00')
  assert.equal(formatOrderTs(-1), '1969/12/31, 23:59:59')
  assert.equal(formatOrderTs(Date.UTC(2024, 1, 29, 1, 2, 3)), '2024/02/29, 01:02:03')
  assert.equal(formatOrderTs(MIN_MS), '0000/01/01, 00:00:00')
  assert.equal(formatOrderTs(MAX_MS), '9999/12/31, 23:59:59')
  const next = lcg(7)
  for (let i = 0; i < 10_000; i++) {
    const ms = Math.floor(MIN_MS + next() * (MAX_MS - MIN_MS))
    assert.equal(formatOrderTs(ms), isoOrderTs(ms))
  }
  for (const ms of [NaN, Infinity, -Infinity, MIN_MS - 1, MAX_MS + 1]) {
    assert.throws(() => formatOrderTs(ms), { code: ErrorCodes.INVALID_ARGUMENT }, String(ms))
  }
})

test('parseOrderTs inverts formatOrderTs to the whole second', () => {
  const next = lcg(2023)
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(MIN_MS + next() * (MAX_MS - MIN_MS))
    const second = Math.floor(ms / 1000) * 1000
    assert.equal(parseOrderTs(formatOrderTs(ms)), second)
  }
  assert.equal(parseOrderTs('2023/03/12, 23:48:37'), Date.UTC(2023, 2, 12, 23, 48, 37))
  assert.equal(parseOrderTs('2024/02/29, 00:00:00'), Date.UTC(2024, 1, 29))
  assert.equal(parseOrderTs('1969/12/31, 23:59:59'), -1000)
  assert.equal(parseOrderTs('0000/02/29, 12:00:00'), Date.parse('0000-02-29T12:00:00.000Z'))
})

test('parseOrderTs rejects malformed strings', () => {
  const bad = [
    '',
    '2023/03/12 23:48:37',
    '2023/03/12,23:48:37',
    '2023/03/12,  23:48:37',
    '2023-03-12, 23:48:37',
    '2023/03/12, 23:48:37.000',
    '2023/03/12, 23:48',
    '2023/03/12, 23:48:3',
    '2023/03/12; 23:48:37',
    '2023/03/12,\t23:48:37',
    '2023/03/12, 23-48-37',
    '2023/03/12, 23:48:37Z',
    ' 2023/03/12, 23:48:37',
    '2023/13/12, 23:48:37',
    '2023/00/12, 23:48:37',
    '2023/02/29, 23:48:37',
    '1900/02/29, 23:48:37',
    '2023/04/31, 23:48:37',
    '2023/03/00, 23:48:37',
    '2023/03/12, 24:00:00',
    '2023/03/12, 23:60:37',
    '2023/03/12, 23:48:60',
    '2023/03/1x, 23:48:37',
    '+023/03/12, 23:48:37',
    '2023/03/12, 2 :48:37',
    // The price layout is not the order layout.
    '2023-03-12 23:48:37.000',
  ]
  for (const s of bad) assert.equal(parseOrderTs(s), undefined, JSON.stringify(s))
  assert.equal(parseOrderTs(20230312 as unknown as string), undefined)
  assert.equal(parseOrderTs(null as unknown as string), undefined)
})
