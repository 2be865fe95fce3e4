/**
 * The fast path of the feeds: an idempotent writer to one topic that encodes record batches itself
 * and sends Produce requests over {@link FetchConnection}s to each partition's leader. Same
 * guarantees as {@link TopicWriter} — acks=all, one producer id, per-partition sequence numbers,
 * so a resent batch (lost response, broken connection) is deduplicated by the broker and every
 * record lands exactly once — at a fraction of the per-record cost of the client library's
 * encoding (BENCHMARKS.md). Records have keys and values only (no headers, no compression);
 * metadata comes from @platformatic/kafka.
 */
import type { ClusterMetadata, Consumer } from '@platformatic/kafka'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { varintSize, writeVarint } from '../protocol/batch-builder.ts'
import { crc32c } from '../protocol/crc32c.ts'
import {
  readInitProducerIdResponse,
  readProduceResponse,
  writeInitProducerIdRequest,
  writeProduceRequest,
  type ProduceResponse,
} from '../protocol/messages/index.ts'
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, Offsets, writeInt64Number } from '../protocol/record-batch.ts'
import type { Records } from '../protocol/codec-support.ts'
import type { BusConfig } from './client.ts'
import { FetchConnection } from './fetch-connection.ts'
import { openReaderClient, topicMetadata } from './reader.ts'
import { ChunkedWriter, type RecordWriter } from './chunked-writer.ts'

const PRODUCE = 0
const PRODUCE_VERSION = 9
const INIT_PRODUCER_ID = 22
const INIT_PRODUCER_ID_VERSION = 4
const DUPLICATE_SEQUENCE_NUMBER = 46
// Produce errors after which the same batch may be sent again (with the same sequence).
const RETRIABLE = new Set([3, 5, 6, 7, 13, 15, 19, 20, 56, 74, 75])
const MAX_ROUNDS = 30
// Largest batch sent: Kafka's default max.message.bytes is 1 MiB + 12. A larger round is cut into
// several batches per partition.
const MAX_BATCH_BYTES = 1024 * 1024
// A record's bytes besides key and value, at most: length, offset delta, key and value lengths
// (varints of up to 5 bytes), attributes, timestamp delta, header count.
const MAX_RECORD_OVERHEAD = 23

export interface BatchWriterOptions {
  topic: string
  /** Records per produce round (default 10000). */
  chunkSize?: number
  /** How long a partly filled chunk waits for more records (default 5 ms). */
  lingerMs?: number
}

interface PartitionBatch {
  partition: number
  count: number
  bytes: Buffer
}

/** One queued record: the key's bytes, the value as given (a string is encoded into the batch). */
interface QueuedRecord {
  key: Buffer | null
  value: Buffer | string
}

export class BatchWriter extends ChunkedWriter<QueuedRecord> implements RecordWriter {
  private readonly bus: BusConfig
  private readonly client: Consumer
  private readonly connections = new Map<number, FetchConnection>()
  private metadata: ClusterMetadata | undefined
  private partitions = 0
  private producerId = -1
  private producerEpoch = -1
  private sequences: number[] = []
  // Partition of the next record without a key.
  private roundRobin = 0

  constructor(bus: BusConfig, options: BatchWriterOptions) {
    super(options.topic, options.chunkSize ?? 10_000, options.lingerMs ?? 5)
    this.bus = bus
    this.client = openReaderClient(bus)
  }

  /** Queues one record; see {@link ChunkedWriter.enqueue} for the returned promise. */
  write(key: string | undefined, value: string | Buffer): Promise<void> | undefined {
    return this.enqueue({ key: key === undefined ? null : this.keyBuffer(key), value })
  }

  protected async release(): Promise<void> {
    for (const c of this.connections.values()) c.close()
    await this.client.close()
  }

  protected sendChunk(records: QueuedRecord[]): Promise<void> {
    return this.send(
      records.map((r) => r.key),
      records.map((r) => r.value),
    )
  }

  private async init(): Promise<void> {
    if (this.metadata !== undefined) return
    this.metadata = await topicMetadata(this.client, this.topic)
    this.partitions = this.metadata.topics.get(this.topic)!.partitionsCount
    this.sequences = new Array<number>(this.partitions).fill(0)
    const leader = this.metadata.topics.get(this.topic)!.partitions[0].leader
    for (let round = 0; ; round++) {
      const response = await (
        await this.connection(leader)
      ).request(INIT_PRODUCER_ID, INIT_PRODUCER_ID_VERSION, writeInitProducerIdRequest, readInitProducerIdResponse, {
        transactionalId: null,
        transactionTimeoutMs: -1,
        producerId: -1n,
        producerEpoch: -1,
      })
      if (response.errorCode === 0) {
        this.producerId = Number(response.producerId)
        this.producerEpoch = response.producerEpoch
        return
      }
      if (round >= 10) {
        throw new TickflowError(
          ErrorCodes.PROTOCOL_UNSUPPORTED,
          `InitProducerId failed with Kafka error ${response.errorCode}`,
        )
      }
      await new Promise((r) => setTimeout(r, 100 * (round + 1)))
    }
  }

  private async connection(node: number): Promise<FetchConnection> {
    let connection = this.connections.get(node)
    if (connection === undefined) {
      const broker = this.metadata!.brokers.get(node)
      if (broker === undefined) throw new TickflowError(ErrorCodes.CLOSED, `no address for broker ${node}`)
      connection = await FetchConnection.connect(broker.host, broker.port, this.bus.clientId)
      this.connections.set(node, connection)
    }
    return connection
  }

  private async send(keys: (Buffer | null)[], values: (Buffer | string)[]): Promise<void> {
    await this.init()
    const lengths = values.map((v) => (typeof v === 'string' ? Buffer.byteLength(v) : v.length))
    // Records per partition, in write order, cut into batches the broker accepts.
    const byPartition: number[][][] = Array.from({ length: this.partitions }, () => [[]])
    const batchBytes = new Array<number>(this.partitions).fill(BATCH_HEADER_SIZE)
    for (let i = 0; i < values.length; i++) {
      const key = keys[i]
      let p: number
      if (key === null) {
        p = this.roundRobin
        this.roundRobin = (this.roundRobin + 1) % this.partitions
      } else p = (murmur2(key) & 0x7fffffff) % this.partitions
      const size = (key === null ? 0 : key.length) + lengths[i] + MAX_RECORD_OVERHEAD
      const batches = byPartition[p]
      if (batchBytes[p] + size > MAX_BATCH_BYTES && batches[batches.length - 1].length > 0) {
        batches.push([])
        batchBytes[p] = BATCH_HEADER_SIZE
      }
      batches[batches.length - 1].push(i)
      batchBytes[p] += size
    }
    const timestamp = Date.now()
    // One batch per partition per request (Produce v3+): a partition's next batch is encoded and
    // sent once the one before is acknowledged, its sequence following on.
    for (let wave = 0; ; wave++) {
      const batches: PartitionBatch[] = []
      byPartition.forEach((cut, partition) => {
        const indexes = cut[wave]
        if (indexes === undefined || indexes.length === 0) return
        batches.push({
          partition,
          count: indexes.length,
          bytes: encodeBatch(
            keys,
            values,
            indexes,
            this.producerId,
            this.producerEpoch,
            this.sequences[partition],
            timestamp,
            lengths,
          ),
        })
      })
      if (batches.length === 0) return
      await this.produce(batches)
    }
  }

  // Sends the batches to their leaders until each is acknowledged, resending the same bytes.
  private async produce(batches: PartitionBatch[]): Promise<void> {
    let remaining = batches
    for (let round = 0; remaining.length > 0; round++) {
      const partitionsMeta = this.metadata!.topics.get(this.topic)!.partitions
      const byLeader = new Map<number, PartitionBatch[]>()
      for (const b of remaining) {
        const leader = partitionsMeta[b.partition]?.leader ?? -1
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), b])
      }
      const retry: PartitionBatch[] = []
      let lastError: unknown
      await Promise.all(
        [...byLeader].map(async ([node, batches]) => {
          let response: ProduceResponse
          try {
            response = await (
              await this.connection(node)
            ).request(PRODUCE, PRODUCE_VERSION, writeProduceRequest, readProduceResponse, {
              transactionalId: null,
              acks: -1,
              timeoutMs: 30_000,
              topicData: [
                {
                  name: this.topic,
                  partitionData: batches.map((b) => ({ index: b.partition, records: b.bytes as Records })),
                },
              ],
            })
          } catch (err) {
            // The batches may or may not have been appended: resend them as they are, and the
            // broker's sequence check tells a duplicate from a new batch.
            this.connections.get(node)?.close()
            this.connections.delete(node)
            lastError = err
            retry.push(...batches)
            return
          }
          const byIndex = new Map(batches.map((b) => [b.partition, b]))
          for (const t of response.responses) {
            for (const p of t.partitionResponses) {
              const batch = byIndex.get(p.index)
              if (batch === undefined) continue
              byIndex.delete(p.index)
              if (p.errorCode === 0 || p.errorCode === DUPLICATE_SEQUENCE_NUMBER) {
                this.sequences[p.index] = (this.sequences[p.index] + batch.count) % 2 ** 31
                this.acked += batch.count
              } else if (RETRIABLE.has(p.errorCode)) {
                lastError = new TickflowError(
                  ErrorCodes.CLOSED,
                  `produce to ${this.topic}/${p.index}: Kafka error ${p.errorCode}`,
                )
                retry.push(batch)
              } else {
                throw new TickflowError(
                  ErrorCodes.PROTOCOL_UNSUPPORTED,
                  `produce to ${this.topic}/${p.index} failed with Kafka error ${p.errorCode}${p.errorMessage ? `: ${p.errorMessage}` : ''}`,
                )
              }
            }
          }
          // A partition the response left out was not written.
          retry.push(...byIndex.values())
        }),
      )
      remaining = retry
      if (remaining.length === 0) return
      if (round + 1 >= MAX_ROUNDS) throw lastError ?? new TickflowError(ErrorCodes.CLOSED, 'produce kept failing')
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * (round + 1))))
      this.metadata = await topicMetadata(this.client, this.topic, true)
    }
  }
}

/** Kafka's murmur2 (as the Java client's default partitioner computes it). */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ length
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = length & 3
  if (rest === 3) h ^= data[whole + 2] << 16
  if (rest >= 2) h ^= data[whole + 1] << 8
  if (rest >= 1) {
    h ^= data[whole]
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/**
 * One uncompressed RecordBatch v2 of the records `indexes`, all stamped `timestamp` (create time):
 * sizes first, then one allocation and one pass of writes.
 */
export function encodeBatch(
  keys: (Buffer | null)[],
  values: (Buffer | string)[],
  indexes: number[],
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  timestamp: number,
  /** UTF-8 byte lengths of `values`, by the same index; computed when omitted. */
  lengths: number[] = values.map((v) => (typeof v === 'string' ? Buffer.byteLength(v) : v.length)),
): Buffer {
  let size = BATCH_HEADER_SIZE
  const bodySizes = new Array<number>(indexes.length)
  for (let i = 0; i < indexes.length; i++) {
    const key = keys[indexes[i]]
    const valueLength = lengths[indexes[i]]
    const keyLength = key === null ? -1 : key.length
    // attributes, timestampDelta 0, offsetDelta, key, value, no headers
    const body =
      1 + 1 + varintSize(i) + varintSize(keyLength) + Math.max(0, keyLength) + varintSize(valueLength) + valueLength + 1
    bodySizes[i] = body
    size += varintSize(body) + body
  }
  const out = Buffer.allocUnsafe(size)
  out.fill(0, 0, BATCH_HEADER_SIZE)
  let at = BATCH_HEADER_SIZE
  for (let i = 0; i < indexes.length; i++) {
    const key = keys[indexes[i]]
    const value = values[indexes[i]]
    at = writeVarint(out, at, bodySizes[i])
    out[at++] = 0 // attributes
    out[at++] = 0 // timestampDelta
    at = writeVarint(out, at, i)
    if (key === null) at = writeVarint(out, at, -1)
    else {
      at = writeVarint(out, at, key.length)
      at += key.copy(out, at)
    }
    const valueLength = lengths[indexes[i]]
    at = writeVarint(out, at, valueLength)
    if (typeof value === 'string') out.write(value, at, valueLength, 'utf8')
    else value.copy(out, at)
    at += valueLength
    out[at++] = 0 // header count
  }
  writeInt64Number(out, 0, Offsets.baseOffset)
  out.writeInt32BE(size - LOG_OVERHEAD, Offsets.batchLength)
  out.writeInt32BE(-1, Offsets.partitionLeaderEpoch)
  out.writeInt8(2, Offsets.magic)
  out.writeInt16BE(0, Offsets.attributes)
  out.writeInt32BE(indexes.length - 1, Offsets.lastOffsetDelta)
  writeInt64Number(out, timestamp, Offsets.baseTimestamp)
  writeInt64Number(out, timestamp, Offsets.maxTimestamp)
  writeInt64Number(out, producerId, Offsets.producerId)
  out.writeInt16BE(producerEpoch, Offsets.producerEpoch)
  out.writeInt32BE(baseSequence, Offsets.baseSequence)
  out.writeInt32BE(indexes.length, Offsets.recordCount)
  out.writeUInt32BE(crc32c(out, Offsets.attributes), Offsets.crc)
  return out
}
