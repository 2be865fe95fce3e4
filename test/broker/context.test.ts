/**
 * BrokerContext: persisted producer-id blocks, the cluster id, auto-creation, long-poll waits,
 * durability under the flush policies, and retention.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { resolveBrokerOptions, type BrokerOptions } from '../../src/broker/config.ts'
import { BrokerContext } from '../../src/broker/context.ts'
import { ApiRegistry } from '../../src/broker/registry.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'

/** Contexts on one data directory, closed before it is removed. */
function home(t: TestContext): { dir: string; open: (o?: BrokerOptions) => BrokerContext } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-context-'))
  const opened: BrokerContext[] = []
  t.after(async () => {
    for (const c of opened) await c.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    open(o = {}) {
      const c = new BrokerContext(resolveBrokerOptions({ ...o, dataDir: dir }), new ApiRegistry())
      opened.push(c)
      return c
    },
  }
}

const brokerFile = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'broker.json'), 'utf8'))

test('producer ids come from persisted blocks and are never reused after a restart', async (t) => {
  const h = home(t)
  let ctx = h.open()
  assert.deepEqual([ctx.allocateProducerId(), ctx.allocateProducerId(), ctx.allocateProducerId()], [0, 1, 2])
  // The whole block is reserved on disk before its first id is handed out.
  assert.equal(brokerFile(h.dir).producerIdBlockEnd, 1000)
  await ctx.close()
  ctx = h.open()
  const next = ctx.allocateProducerId()
  assert.ok(next >= 1000, `got ${next}`)
  for (let i = 0; i < 1000; i++) ctx.allocateProducerId()
  // Crossing into another block reserves it first.
  assert.equal(brokerFile(h.dir).producerIdBlockEnd, 3000)
  const last = ctx.allocateProducerId()
  await ctx.close()
  assert.ok(h.open().allocateProducerId() > last)
})

test('the cluster id is created once per data directory', async (t) => {
  const a = home(t)
  const first = a.open()
  const id = first.clusterId
  assert.match(id, /^[A-Za-z0-9_-]{22}$/)
  await first.close()
  assert.equal(a.open().clusterId, id)
  assert.notEqual(home(t).open().clusterId, id)
})

test('autoCreate follows the broker option and its default partition count', async (t) => {
  const on = home(t).open({ defaultPartitions: 2 })
  assert.equal(on.autoCreate('auto')?.partitions.length, 2)
  const off = home(t).open({ autoCreateTopics: false })
  assert.equal(off.autoCreate('auto'), undefined)
  assert.equal(off.topics.get('auto'), undefined)
})

test('waitForAppend says whether an append or the timeout came first', async (t) => {
  const ctx = home(t).open()
  const p = ctx.topics.create('wait', 1).partitions[0]
  assert.equal(await ctx.waitForAppend([p], 0), 'timeout')
  const waiting = ctx.waitForAppend([p], 60_000)
  p.notify()
  assert.equal(await waiting, 'append')
})

test('durable() resolves once appended data is fsynced under the sync policy', async (t) => {
  for (const flushPolicy of ['sync', 'none'] as const) {
    const ctx = home(t).open({ flushPolicy })
    const p = ctx.topics.create('dur', 1).partitions[0]
    p.log.append(buildRecordBatch([{ value: 'x' }]))
    await ctx.durable([p])
    if (flushPolicy === 'sync') assert.equal(p.log.flushedOffset, 1)
  }
})

test('enforceRetention applies each topic’s retention.ms to its logs', async (t) => {
  const ctx = home(t).open()
  const p = ctx.topics.create('old', 1, { 'retention.ms': '60000' }).partitions[0]
  const now = Date.now()
  p.log.append(buildRecordBatch([{ value: 'stale', timestamp: now - 3_600_000 }]))
  // Half a minute after the record's time it is still within retention.ms.
  assert.equal(ctx.enforceRetention(now - 3_600_000 + 30_000), 0)
  assert.ok(ctx.enforceRetention(now) > 0)
  assert.equal(p.log.logStartOffset, 1)
  // Closing twice is harmless.
  await ctx.close()
  await ctx.close()
})
