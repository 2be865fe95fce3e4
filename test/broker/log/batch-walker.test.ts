import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { BatchWalker, FileWindow } from '../../../src/broker/log/batch-walker.ts'
import { buildRecordBatch } from '../../../src/protocol/record-batch.ts'
import { tempDir } from './log-fixtures.ts'

function writeFile(dir: string, parts: Buffer[]): number {
  const file = path.join(dir, 'segment')
  fs.writeFileSync(file, Buffer.concat(parts))
  return fs.openSync(file, 'r')
}

test('the walker steps through batch headers with a window smaller than the batches', (t) => {
  const batches = [1, 30, 2, 50, 1].map((n, i) =>
    buildRecordBatch(
      Array.from({ length: n }, () => ({ value: 'v'.repeat(40) })),
      { baseOffset: i * 100, baseTimestamp: 1000 + i },
    ),
  )
  const fd = writeFile(tempDir(t), batches)
  t.after(() => fs.closeSync(fd))
  const size = batches.reduce((n, b) => n + b.length, 0)
  for (const windowSize of [61, 128, 1 << 16]) {
    const walker = new BatchWalker(new FileWindow(windowSize))
    walker.reset(fd, 0, size)
    const seen: Array<[number, number, number, number]> = []
    while (walker.next()) {
      assert.equal(walker.buf.readInt32BE(walker.at + 8) + 12, walker.size)
      seen.push([walker.pos, walker.baseOffset, walker.lastOffset, walker.maxTimestamp])
    }
    assert.equal(walker.broken, false)
    assert.equal(walker.pos, size)
    let pos = 0
    assert.deepEqual(
      seen,
      batches.map((b, i) => {
        const at = pos
        pos += b.length
        return [at, i * 100, i * 100 + b.readInt32BE(23), 1000 + i]
      }),
    )
  }
})

test('the walker stops at bytes that cannot be a batch', (t) => {
  const good = buildRecordBatch([{ value: 'a' }])
  const dir = tempDir(t)
  const cases: Array<[string, Buffer]> = [
    ['torn header', good.subarray(0, 30)],
    ['torn batch', good.subarray(0, good.length - 1)],
    ['bad magic', Buffer.concat([good.subarray(0, 16), Buffer.from([1]), good.subarray(17)])],
    ['short batchLength', Buffer.concat([good.subarray(0, 8), Buffer.from([0, 0, 0, 10]), good.subarray(12)])],
  ]
  for (const [name, tail] of cases) {
    const fd = writeFile(dir, [good, tail])
    const walker = new BatchWalker(new FileWindow(1024))
    walker.reset(fd, 0, good.length + tail.length)
    assert.equal(walker.next(), true, name)
    assert.equal(walker.next(), false, name)
    assert.equal(walker.broken, true, name)
    assert.equal(walker.pos, good.length, name)
    fs.closeSync(fd)
  }
})
