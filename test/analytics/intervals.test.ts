/**
 * Bar interval parsing: accepted spellings, canonical labels (one topic per length), list parsing
 * (sorted, deduplicated) and the errors for everything else.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_INTERVAL_MS, intervalLabel, parseInterval, parseIntervals } from '../../src/analytics/intervals.ts'
import { ErrorCodes } from '../../src/errors.ts'

function assertInvalid(fn: () => unknown, messagePart: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: string; message?: string }
    assert.equal(e.code, ErrorCodes.INVALID_ARGUMENT)
    assert.match(e.message ?? '', messagePart)
    return true
  })
}

test('common intervals parse to their length and keep their label', () => {
  const cases: Array<[string, number]> = [
    ['1s', 1000],
    ['1m', 60_000],
    ['5m', 300_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['4h', 14_400_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    ['90s', 90_000],
    ['90m', 5_400_000],
  ]
  for (const [text, ms] of cases) assert.deepEqual(parseInterval(text), { label: text, ms }, text)
})

test('equal lengths get one canonical label in the largest whole unit', () => {
  const cases: Array<[string, string]> = [
    ['60s', '1m'],
    ['1min', '1m'],
    ['5min', '5m'],
    ['60000ms', '1m'],
    ['1000ms', '1s'],
    ['3600s', '1h'],
    ['24h', '1d'],
    ['1440m', '1d'],
    ['48h', '2d'],
    ['1500ms', '1500ms'],
    ['120s', '2m'],
    ['007m', '7m'],
    ['  1m ', '1m'],
  ]
  for (const [text, label] of cases) assert.equal(parseInterval(text).label, label, text)
  assert.equal(intervalLabel(1), '1ms')
  assert.equal(intervalLabel(61_000), '61s')
  assert.equal(intervalLabel(MAX_INTERVAL_MS), '366d')
})

test('invalid intervals throw INVALID_ARGUMENT with a message saying what is expected', () => {
  assertInvalid(() => parseInterval(''), /empty bar interval/)
  assertInvalid(() => parseInterval('   '), /empty bar interval/)
  assertInvalid(() => parseInterval('m'), /expected a whole number and a unit/)
  assertInvalid(() => parseInterval('5'), /expected a whole number and a unit/)
  assertInvalid(() => parseInterval('-1m'), /expected a whole number and a unit/)
  assertInvalid(() => parseInterval('1 m'), /expected a whole number and a unit/)
  assertInvalid(() => parseInterval('1m30s'), /expected a whole number and a unit/)
  assertInvalid(() => parseInterval('1.5m'), /whole number \(write "90s"/)
  assertInvalid(() => parseInterval('0m'), /at least 1ms/)
  assertInvalid(() => parseInterval('1M'), /unknown unit "M" \(months have no fixed length/)
  assertInvalid(() => parseInterval('1w'), /unknown unit "w"/)
  assertInvalid(() => parseInterval('1H'), /unknown unit "H"/)
  assertInvalid(() => parseInterval('367d'), /longest interval is 366d/)
  assertInvalid(() => parseInterval('99999999999999999999s'), /longest interval/)
  assertInvalid(() => intervalLabel(0), /whole number of ms/)
  assertInvalid(() => intervalLabel(1.5), /whole number of ms/)
  assertInvalid(() => intervalLabel(MAX_INTERVAL_MS + 1), /whole number of ms/)
})

test('interval lists are sorted by length and deduplicated by length', () => {
  assert.deepEqual(parseIntervals('5m,1s,1m'), [
    { label: '1s', ms: 1000 },
    { label: '1m', ms: 60_000 },
    { label: '5m', ms: 300_000 },
  ])
  assert.deepEqual(parseIntervals(' 1m , 60s,1min,1h,1m '), [
    { label: '1m', ms: 60_000 },
    { label: '1h', ms: 3_600_000 },
  ])
  assert.deepEqual(parseIntervals('1d'), [{ label: '1d', ms: 86_400_000 }])
})

test('invalid interval lists throw INVALID_ARGUMENT', () => {
  assertInvalid(() => parseIntervals(''), /empty list/)
  assertInvalid(() => parseIntervals(' '), /empty list/)
  assertInvalid(() => parseIntervals('1m,,5m'), /empty item/)
  assertInvalid(() => parseIntervals('1m,'), /empty item/)
  assertInvalid(() => parseIntervals('1m,5x'), /unknown unit "x"/)
})
