/**
 * Shared helpers of the partition log tests (not a test file itself): temp dirs and logs cleaned up
 * after each test, batch builders, and accessors for batch offsets.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { DEFAULT_LOG_CONFIG, PartitionLog, segmentFileName } from '../../../src/broker/log/index.ts'
import type { LogConfig, PartitionLogOptions } from '../../../src/broker/log/index.ts'
import { buildRecordBatch, readBatchHeader } from '../../../src/protocol/record-batch.ts'

/** Temp dirs and logs of one test; closes the logs, then removes the dirs. */
const cleanups = new WeakMap<TestContext, { dirs: string[]; logs: PartitionLog[] }>()
function resources(t: TestContext): { dirs: string[]; logs: PartitionLog[] } {
  let r = cleanups.get(t)
  if (r === undefined) {
    const created = { dirs: [] as string[], logs: [] as PartitionLog[] }
    t.after(() => {
      for (const log of created.logs) log.close()
      for (const dir of created.dirs) fs.rmSync(dir, { recursive: true, force: true })
    })
    cleanups.set(t, created)
    r = created
  }
  return r
}

export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-'))
  resources(t).dirs.push(dir)
  return dir
}

export function openLog(
  t: TestContext,
  dir: string,
  config: Partial<LogConfig> = {},
  options: PartitionLogOptions = {},
): PartitionLog {
  const log = PartitionLog.open(dir, { ...DEFAULT_LOG_CONFIG, ...config }, options)
  resources(t).logs.push(log)
  return log
}

/** A batch of `count` records with `valueBytes`-byte values, timestamps `ts`, `ts + 1`, … */
export function makeBatch(count: number, ts: number, valueBytes = 20): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    key: `k${i}`,
    value: Buffer.alloc(valueBytes, i),
    timestamp: ts + i,
  }))
  return buildRecordBatch(records)
}

export function splitBatches(buf: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < buf.length;) {
    const size = buf.readInt32BE(at + 8) + 12
    out.push(buf.subarray(at, at + size))
    at += size
  }
  return out
}

/** Appends batches with 1..5 records; returns copies of them as stored (baseOffset patched). */
export function fill(log: PartitionLog, n: number, ts = 1_000): Buffer[] {
  const stored: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const batch = makeBatch((i % 5) + 1, ts + i * 10)
    log.append(batch)
    stored.push(Buffer.from(batch))
  }
  return stored
}

export const baseOf = (b: Buffer): number => readBatchHeader(b).baseOffset
export const lastOf = (b: Buffer): number => readBatchHeader(b).baseOffset + readBatchHeader(b).lastOffsetDelta

/** Path of a segment file. */
export function segmentPath(dir: string, base: number, ext: '.log' | '.index' | '.timeindex' = '.log'): string {
  return path.join(dir, segmentFileName(base, ext))
}

/** Segment base offsets found in `dir`, ascending. */
export function segmentFiles(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .map((name) => Number(name.slice(0, 20)))
    .sort((a, b) => a - b)
}

export { DEFAULT_LOG_CONFIG, PartitionLog }
