/**
 * The partition watermark: max event time − allowed lateness, monotonic under disorder, explicit
 * advances and restore; idle advances that start after the timeout and grow with wall time.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { PartitionWatermark } from '../../src/stream/watermark.ts'

function assertInvalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => (err as { code?: string }).code === ErrorCodes.INVALID_ARGUMENT)
}

test('the watermark trails the largest event time by the allowed lateness', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 2000, idleTimeoutMs: 0 })
  assert.equal(wm.current, -Infinity)
  assert.equal(wm.maxEventTime, -Infinity)
  wm.observe(10_000, 0)
  assert.equal(wm.current, 8000)
  wm.observe(12_500, 0)
  assert.equal(wm.current, 10_500)
  // Out of order (within or beyond the lateness): no movement, and never backwards.
  wm.observe(11_000, 0)
  assert.equal(wm.current, 10_500)
  wm.observe(1000, 0)
  assert.equal(wm.current, 10_500)
  assert.equal(wm.maxEventTime, 12_500)
  wm.observe(12_501, 0)
  assert.equal(wm.current, 10_501)
})

test('zero lateness: the watermark is the largest event time', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 0, idleTimeoutMs: 0 })
  for (const ts of [-5000, -7000, 3, 2, 3]) wm.observe(ts, 0)
  assert.equal(wm.current, 3)
})

test('advanceTo never moves the watermark backwards; observe does not undo it', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 1000, idleTimeoutMs: 0 })
  wm.advanceTo(5000) // before any record: allowed, e.g. a replayed advance
  assert.equal(wm.current, 5000)
  wm.observe(3000, 0)
  assert.equal(wm.current, 5000)
  wm.advanceTo(4000)
  assert.equal(wm.current, 5000)
  wm.observe(7000, 0)
  assert.equal(wm.current, 6000)
  wm.advanceTo(Infinity)
  assert.equal(wm.current, Infinity)
  wm.observe(9000, 0)
  assert.equal(wm.current, Infinity)
  assertInvalid(() => wm.advanceTo(NaN))
})

test('idle advance: nothing before the timeout, then a watermark growing with wall time', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 1000, idleTimeoutMs: 5000 })
  assert.equal(wm.idleAdvance(1_000_000), undefined) // no record yet: no event time to extrapolate
  wm.observe(50_000, 100_000)
  wm.observe(40_000, 101_000) // any record, even an old one, shows the partition is not idle
  assert.equal(wm.current, 49_000)
  assert.equal(wm.idleAdvance(101_000), undefined)
  assert.equal(wm.idleAdvance(105_999), undefined)
  // At the timeout the proposal equals the current watermark: still no move.
  assert.equal(wm.idleAdvance(106_000), undefined)
  const proposals = [106_001, 107_000, 110_000, 160_000].map((now) => wm.idleAdvance(now))
  assert.deepEqual(proposals, [49_001, 50_000, 53_000, 103_000])
  // idleAdvance only proposes; the caller applies.
  assert.equal(wm.current, 49_000)
  wm.advanceTo(53_000)
  assert.equal(wm.current, 53_000)
  assert.equal(wm.idleAdvance(110_000), undefined) // not ahead of the applied watermark
  assert.equal(wm.idleAdvance(108_000), undefined) // a wall clock going back proposes nothing
  assert.equal(wm.idleAdvance(111_000), 54_000)
  // A record restarts the idle clock; the watermark stays where the advance put it.
  wm.observe(51_000, 112_000)
  assert.equal(wm.current, 53_000)
  assert.equal(wm.idleAdvance(117_000), undefined)
  assert.equal(wm.idleAdvance(120_000), undefined) // 51_000 + 3000 − 1000: not ahead of 53_000
  assert.equal(wm.idleAdvance(120_001), 53_001)
  assert.equal(wm.idleAdvance(NaN), undefined)
})

test('idle timeout 0 never advances', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 0, idleTimeoutMs: 0 })
  wm.observe(1000, 0)
  for (const now of [1, 1000, 1e9, 1e12]) assert.equal(wm.idleAdvance(now), undefined)
  assert.equal(wm.current, 1000)
})

test('save/restore keeps the watermark; the restored one never goes back', () => {
  const config = { allowedLatenessMs: 1000, idleTimeoutMs: 5000 }
  const wm = new PartitionWatermark(config)
  wm.observe(20_000, 0)
  wm.advanceTo(25_000)
  const state = JSON.parse(JSON.stringify(wm.saveState()))
  const back = PartitionWatermark.restore(config, state)
  assert.equal(back.current, 25_000)
  assert.equal(back.maxEventTime, 20_000)
  back.observe(22_000, 0)
  assert.equal(back.current, 25_000)
  back.observe(30_000, 0)
  assert.equal(back.current, 29_000)
  // A larger lateness after restore does not pull the watermark back either.
  const wider = PartitionWatermark.restore({ allowedLatenessMs: 60_000, idleTimeoutMs: 0 }, state)
  wider.observe(21_000, 0)
  assert.equal(wider.current, 25_000)

  const fresh = PartitionWatermark.restore(
    config,
    JSON.parse(JSON.stringify(new PartitionWatermark(config).saveState())),
  )
  assert.equal(fresh.current, -Infinity)
  const done = new PartitionWatermark(config)
  done.advanceTo(Infinity)
  assert.equal(PartitionWatermark.restore(config, JSON.parse(JSON.stringify(done.saveState()))).current, Infinity)
})

test('after restore the idle clock starts at the first idleAdvance, not at the saved wall time', () => {
  const config = { allowedLatenessMs: 1000, idleTimeoutMs: 5000 }
  const wm = new PartitionWatermark(config)
  wm.observe(20_000, 100_000)
  const back = PartitionWatermark.restore(config, wm.saveState())
  // Downtime is not counted: a restarted processor must not jump past a backlog it has yet to read.
  assert.equal(back.idleAdvance(900_000), undefined)
  assert.equal(back.idleAdvance(904_999), undefined)
  assert.equal(back.idleAdvance(906_000), 20_000)
  // A record arriving first starts the clock instead.
  const other = PartitionWatermark.restore(config, wm.saveState())
  other.observe(19_000, 700_000)
  assert.equal(other.idleAdvance(706_000), 20_000)
})

test('invalid config, event times and states throw INVALID_ARGUMENT', () => {
  assertInvalid(() => new PartitionWatermark({ allowedLatenessMs: -1, idleTimeoutMs: 0 }))
  assertInvalid(() => new PartitionWatermark({ allowedLatenessMs: NaN, idleTimeoutMs: 0 }))
  assertInvalid(() => new PartitionWatermark({ allowedLatenessMs: 0, idleTimeoutMs: -5 }))
  assertInvalid(() => new PartitionWatermark({ allowedLatenessMs: 0, idleTimeoutMs: Infinity }))
  const config = { allowedLatenessMs: 0, idleTimeoutMs: 0 }
  const wm = new PartitionWatermark(config)
  assertInvalid(() => wm.observe(NaN, 0))
  assertInvalid(() => wm.observe(Infinity, 0))
  assert.equal(wm.current, -Infinity)
  for (const bad of [
    null,
    'x',
    {},
    { v: 2, maxEventTime: null, watermark: null },
    { v: 1, maxEventTime: 'x', watermark: null },
    { v: 1, maxEventTime: null, watermark: '5' },
    { v: 1, maxEventTime: null, watermark: NaN },
    { v: 1, maxEventTime: Infinity, watermark: null },
  ]) {
    assertInvalid(() => PartitionWatermark.restore(config, bad))
  }
})
