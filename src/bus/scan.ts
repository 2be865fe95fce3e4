/**
 * Scanning bounded partition ranges at full speed, for batch jobs (`tickflow stats`): Fetch
 * requests go over {@link FetchConnection}s to each partition's leader and the record batches are
 * walked in place, handing each record's value bytes to a callback. Read-committed semantics match
 * {@link readRanges}: control batches and records of aborted transactions are skipped.
 */
import type { Consumer, ClusterMetadata } from '@platformatic/kafka'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { decompress } from '../protocol/compression/index.ts'
import { Attributes, BATCH_HEADER_SIZE, LOG_OVERHEAD, Offsets, readInt64Number } from '../protocol/record-batch.ts'
import { FetchConnection } from './fetch-connection.ts'
import { topicMetadata } from './reader.ts'
import { AbortedTransactions, RETRIABLE_FETCH_ERRORS } from './read-committed.ts'

const OFFSET_OUT_OF_RANGE = 1
// Consecutive failed rounds (connection errors, retriable errors) before giving up.
const MAX_FAILED_ROUNDS = 20

export interface ScanRange {
  partition: number
  from: bigint
  to: bigint
}

export interface ScanOptions {
  topic: string
  ranges: ScanRange[]
  clientId: string
  /** Called for every record in the ranges, in offset order per partition. */
  onRecord: RecordCallback
  /** Called after each fetch with the records handed out so far. */
  onProgress?(records: number): void
  /** Bytes per partition per fetch (default 8 MiB). */
  partitionMaxBytes?: number
}

/**
 * Reads every record of the ranges once. `client` serves metadata and offset lookups.
 * @throws TICKFLOW_ERR_UNKNOWN_TOPIC, or the error of a fetch that keeps failing
 */
export async function scanRanges(client: Consumer, options: ScanOptions): Promise<number> {
  const { topic } = options
  const position = new Map<number, number>()
  const stop = new Map<number, number>()
  for (const r of options.ranges) {
    if (r.from < r.to) position.set(r.partition, Number(r.from))
    stop.set(r.partition, Number(r.to))
  }
  const connections = new Map<number, FetchConnection>()
  let metadata = await topicMetadata(client, topic)
  let failedRounds = 0
  let handed = 0
  const partitionMaxBytes = options.partitionMaxBytes ?? 8 << 20
  try {
    while (position.size > 0) {
      const byLeader = new Map<number, number[]>()
      const partitionsMeta = metadata.topics.get(topic)!.partitions
      for (const partition of position.keys()) {
        const leader = partitionsMeta[partition]?.leader ?? -1
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition])
      }
      let refresh = false
      // The last partition error retried this round: thrown once rounds keep failing.
      let failure: TickflowError | undefined
      await Promise.all(
        [...byLeader].map(async ([node, partitions]) => {
          let response
          try {
            const connection = await connectionTo(connections, metadata, node, options.clientId)
            response = await connection.fetch({
              maxWaitMs: 0,
              minBytes: 1,
              maxBytes: 64 << 20,
              isolationLevel: 1,
              topics: [
                {
                  topic,
                  partitions: partitions.map((partition) => ({
                    partition,
                    fetchOffset: BigInt(position.get(partition)!),
                    partitionMaxBytes,
                  })),
                },
              ],
            })
          } catch (err) {
            connections.get(node)?.close()
            connections.delete(node)
            refresh = true
            if (failedRounds + 1 >= MAX_FAILED_ROUNDS) throw err
            return
          }
          for (const t of response.responses) {
            for (const p of t.partitions) {
              const partition = p.partitionIndex
              const from = position.get(partition)
              if (from === undefined) continue
              if (p.errorCode === OFFSET_OUT_OF_RANGE) {
                // Retention or DeleteRecords removed the start of the range: go on from the log start.
                const starts = await client.listOffsets({ topics: [topic], timestamp: -2n })
                const start = Number(starts.get(topic)?.[partition] ?? 0n)
                if (start > from) position.set(partition, start)
                else {
                  refresh = true
                  failure = fetchError(topic, partition, p.errorCode)
                }
                continue
              }
              if (p.errorCode !== 0) {
                if (RETRIABLE_FETCH_ERRORS.has(p.errorCode)) {
                  refresh = true
                  failure = fetchError(topic, partition, p.errorCode)
                  continue
                }
                throw fetchError(topic, partition, p.errorCode)
              }
              const to = stop.get(partition)!
              const walked = walkBatches(p.records, from, to, p.abortedTransactions, partition, options.onRecord)
              handed += walked.records
              const next = Math.min(walked.next, to)
              // A range past the last stable offset ends there: nothing more can be read now.
              const stuck = next === from && p.lastStableOffset >= 0n && Number(p.lastStableOffset) <= from
              if (next >= to || stuck) position.delete(partition)
              else position.set(partition, next)
            }
          }
        }),
      )
      options.onProgress?.(handed)
      if (refresh) {
        failedRounds++
        if (failure !== undefined && failedRounds >= MAX_FAILED_ROUNDS) throw failure
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * failedRounds)))
        metadata = await topicMetadata(client, topic, true)
      } else {
        failedRounds = 0
      }
    }
  } finally {
    for (const c of connections.values()) c.close()
  }
  return handed
}

function fetchError(topic: string, partition: number, errorCode: number): TickflowError {
  return new TickflowError(
    ErrorCodes.PROTOCOL_UNSUPPORTED,
    `fetch of ${topic}/${partition} failed with Kafka error ${errorCode}`,
  )
}

async function connectionTo(
  connections: Map<number, FetchConnection>,
  metadata: ClusterMetadata,
  node: number,
  clientId: string,
): Promise<FetchConnection> {
  let connection = connections.get(node)
  if (connection === undefined) {
    const broker = metadata.brokers.get(node)
    if (broker === undefined) throw new TickflowError(ErrorCodes.CLOSED, `no address for broker ${node}`)
    connection = await FetchConnection.connect(broker.host, broker.port, clientId)
    connections.set(node, connection)
  }
  return connection
}

/**
 * Walks the batches of one partition's fetched bytes: hands out each record in [from, to) that
 * is not a control record nor part of an aborted transaction. A truncated last batch is left for
 * the next fetch. Returns the next offset to fetch and the records handed out.
 */
export function walkBatches(
  data: Buffer | null,
  from: number,
  to: number,
  aborted: readonly { producerId: bigint | number; firstOffset: bigint | number }[] | null,
  partition: number,
  onRecord: RecordCallback,
): { next: number; records: number } {
  return walkBatchesWith(data, from, to, aborted, partition, (payload, count, base, baseTimestamp) =>
    walkRecords(payload, count, base, baseTimestamp, from, to, partition, onRecord),
  )
}

/** As {@link walkBatches}, handing out whole records: key, value and headers (and `topic`, as given). */
export function walkBatchesFull(
  data: Buffer | null,
  from: number,
  to: number,
  aborted: readonly { producerId: bigint | number; firstOffset: bigint | number }[] | null,
  partition: number,
  onRecord: FullRecordCallback,
  topic = '',
): { next: number; records: number } {
  return walkBatchesWith(data, from, to, aborted, partition, (payload, count, base, baseTimestamp) =>
    walkFullRecords(payload, count, base, baseTimestamp, from, to, topic, partition, onRecord),
  )
}

// The batch-level walk shared by both: `walk` gets each kept batch's decompressed records.
function walkBatchesWith(
  data: Buffer | null,
  from: number,
  to: number,
  aborted: readonly { producerId: bigint | number; firstOffset: bigint | number }[] | null,
  partition: number,
  walk: (payload: Buffer, count: number, base: number, baseTimestamp: number) => number,
): { next: number; records: number } {
  let next = from
  let records = 0
  if (data === null) return { next, records }
  const filter = new AbortedTransactions(aborted)
  let at = 0
  while (data.length - at >= BATCH_HEADER_SIZE) {
    const size = LOG_OVERHEAD + data.readInt32BE(at + Offsets.batchLength)
    if (size < BATCH_HEADER_SIZE) {
      throw new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, `batch of ${size} bytes in ${partition}`)
    }
    if (size > data.length - at) break
    const base = readInt64Number(data, at + Offsets.baseOffset)
    const last = base + data.readInt32BE(at + Offsets.lastOffsetDelta)
    const attributes = data.readInt16BE(at + Offsets.attributes)
    const producerId = readInt64Number(data, at + Offsets.producerId)
    const start = at
    at += size
    if (last + 1 > next) next = last + 1
    if (filter.skip(last, attributes, producerId)) continue
    if (last < from || base >= to) continue
    const payload = decompress(
      attributes & Attributes.compressionMask,
      data.subarray(start + BATCH_HEADER_SIZE, start + size),
    )
    const count = data.readInt32BE(start + Offsets.recordCount)
    const baseTimestamp = readInt64Number(data, start + Offsets.baseTimestamp)
    records += walk(payload, count, base, baseTimestamp)
  }
  return { next, records }
}

// Walks `count` records; the record grammar: length, attributes, timestampDelta, offsetDelta, key,
// value, headers — all lengths zigzag varints.
function walkRecords(
  payload: Buffer,
  count: number,
  base: number,
  baseTimestamp: number,
  from: number,
  to: number,
  partition: number,
  onRecord: RecordCallback,
): number {
  let q = 0
  let handed = 0
  for (let i = 0; i < count; i++) {
    const length = readVarint(payload, q)
    q = varintEnd
    const end = q + length
    if (length < 0 || end > payload.length) {
      throw new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, `record ${i} overruns its batch in ${partition}`)
    }
    q++ // attributes
    const timestamp = baseTimestamp + readVarlong(payload, q)
    q = varintEnd
    const offset = base + readVarint(payload, q)
    q = varintEnd
    const keyLength = readVarint(payload, q)
    q = varintEnd + Math.max(0, keyLength)
    const valueLength = readVarint(payload, q)
    q = varintEnd
    if (valueLength > end - q) {
      throw new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, `record ${i} value overruns its record in ${partition}`)
    }
    if (offset >= from && offset < to) {
      onRecord(valueLength < 0 ? null : payload.subarray(q, q + valueLength), partition, offset, timestamp)
      handed++
    }
    q = end
  }
  return handed
}

// The whole-record walk: as walkRecords, also reading the key and the headers.
function walkFullRecords(
  payload: Buffer,
  count: number,
  base: number,
  baseTimestamp: number,
  from: number,
  to: number,
  topic: string,
  partition: number,
  onRecord: FullRecordCallback,
): number {
  let q = 0
  let handed = 0
  const bad = (i: number, what: string): TickflowError =>
    new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, `record ${i} ${what} overruns its record in ${partition}`)
  for (let i = 0; i < count; i++) {
    const length = readVarint(payload, q)
    q = varintEnd
    const end = q + length
    if (length < 0 || end > payload.length) throw bad(i, 'length')
    q++ // attributes
    const timestamp = baseTimestamp + readVarlong(payload, q)
    q = varintEnd
    const offset = base + readVarint(payload, q)
    q = varintEnd
    const keyLength = readVarint(payload, q)
    q = varintEnd
    if (keyLength > end - q) throw bad(i, 'key')
    const key = keyLength < 0 ? null : payload.subarray(q, q + keyLength)
    q += Math.max(0, keyLength)
    const valueLength = readVarint(payload, q)
    q = varintEnd
    if (valueLength > end - q) throw bad(i, 'value')
    const value = valueLength < 0 ? null : payload.subarray(q, q + valueLength)
    q += Math.max(0, valueLength)
    const headerCount = readVarint(payload, q)
    q = varintEnd
    const headers: [string, Buffer | null][] = []
    for (let h = 0; h < headerCount; h++) {
      const nameLength = readVarint(payload, q)
      q = varintEnd
      if (nameLength < 0 || nameLength > end - q) throw bad(i, 'header name')
      const name = payload.toString('utf8', q, q + nameLength)
      q += nameLength
      const headerLength = readVarint(payload, q)
      q = varintEnd
      if (headerLength > end - q) throw bad(i, 'header value')
      headers.push([name, headerLength < 0 ? null : payload.subarray(q, q + headerLength)])
      q += Math.max(0, headerLength)
    }
    if (offset >= from && offset < to) {
      onRecord({ topic, partition, offset, timestamp, key, value, headers })
      handed++
    }
    q = end
  }
  return handed
}

/** A whole record; key, value and header values are views into the fetched data. */
export interface FullRecord {
  /** The topic given to walkBatchesFull ('' when none). */
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  /** Name and value (null for a header without one). */
  headers: [string, Buffer | null][]
}

/** Receives one whole record (see {@link walkBatchesFull}). */
export type FullRecordCallback = (record: FullRecord) => void

/** Receives one record: its value bytes (a view into the fetched data), position and timestamp. */
export type RecordCallback = (value: Buffer | null, partition: number, offset: number, timestamp: number) => void

// A zigzag varlong (a timestamp delta) as a number: exact below 2^53.
function readVarlong(buf: Buffer, at: number): number {
  let value = 0
  let scale = 1
  let byte: number
  do {
    if (scale > 2 ** 63) throw new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, 'varlong longer than 10 bytes')
    byte = buf[at++]
    value += (byte & 0x7f) * scale
    scale *= 128
  } while (byte & 0x80)
  varintEnd = at
  // zigzag: even → n/2, odd → −(n+1)/2
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2
}

// The end of the varint read last: a module variable instead of a returned pair (no allocation).
let varintEnd = 0

function readVarint(buf: Buffer, at: number): number {
  let value = 0
  let shift = 0
  let byte: number
  do {
    if (shift > 28) throw new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, 'varint longer than 5 bytes')
    byte = buf[at++]
    value |= (byte & 0x7f) << shift
    shift += 7
  } while (byte & 0x80)
  varintEnd = at
  return (value >>> 1) ^ -(value & 1)
}
