/**
 * Reference operations for tests, spoken over the wire with the raw client: create topics,
 * produce exact batches, read committed and end offsets. Scenarios use these to set up and check
 * state independently of the client under test.
 */
import {
  readCreateTopicsResponse,
  readListOffsetsResponse,
  readMetadataResponse,
  readOffsetFetchResponse,
  readProduceResponse,
  writeCreateTopicsRequest,
  writeListOffsetsRequest,
  writeMetadataRequest,
  writeOffsetFetchRequest,
  writeProduceRequest,
} from '../../src/protocol/messages/index.ts'
import { buildRecordBatch, type BuildBatchOptions, type RecordInput } from '../../src/protocol/record-batch.ts'
import { RawClient } from './raw-client.ts'

interface HasAddress {
  address: string
}

async function withClient<T>(broker: HasAddress, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const [host, port] = broker.address.split(':')
  const c = await RawClient.connect(Number(port), host)
  try {
    return await fn(c)
  } finally {
    c.close()
  }
}

export function createTopic(
  broker: HasAddress,
  name: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  return withClient(broker, async (c) => {
    const res = await c.request(19, 7, writeCreateTopicsRequest, readCreateTopicsResponse, {
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor: 1,
          configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
        },
      ],
      timeoutMs: 10_000,
    })
    const t = res.topics[0]
    if (t.errorCode !== 0) throw new Error(`CreateTopics ${name} failed: ${t.errorCode} ${t.errorMessage}`)
  })
}

/** Produces each inner array as one record batch, in order, to one partition (acks=all). */
export function produceRaw(
  broker: HasAddress,
  topic: string,
  partition: number,
  batches: RecordInput[][],
  options: BuildBatchOptions = {},
): Promise<number[]> {
  return withClient(broker, async (c) => {
    const baseOffsets: number[] = []
    for (const records of batches) {
      const res = await c.request(0, 9, writeProduceRequest, readProduceResponse, {
        acks: -1,
        timeoutMs: 10_000,
        topicData: [
          { name: topic, partitionData: [{ index: partition, records: buildRecordBatch(records, options) }] },
        ],
      })
      const p = res.responses[0].partitionResponses[0]
      if (p.errorCode !== 0)
        throw new Error(`Produce to ${topic}-${partition} failed: ${p.errorCode} ${p.errorMessage}`)
      baseOffsets.push(Number(p.baseOffset))
    }
    return baseOffsets
  })
}

/** Committed offsets of a group for partitions 0..n-1 of a topic (-1 when none). */
export function fetchCommittedOffsets(
  broker: HasAddress,
  groupId: string,
  topic: string,
  partitions: number,
): Promise<Map<number, number>> {
  return withClient(broker, async (c) => {
    const res = await c.request(9, 7, writeOffsetFetchRequest, readOffsetFetchResponse, {
      groupId,
      topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, i) => i) }],
    })
    if (res.errorCode !== 0) throw new Error(`OffsetFetch failed: ${res.errorCode}`)
    return new Map(res.topics[0].partitions.map((p) => [p.partitionIndex, Number(p.committedOffset)]))
  })
}

/** The high watermark of every partition of a topic. */
export function listEndOffsets(broker: HasAddress, topic: string): Promise<number[]> {
  return withClient(broker, async (c) => {
    const md = await c.request(3, 12, writeMetadataRequest, readMetadataResponse, {
      topics: [{ name: topic }],
      allowAutoTopicCreation: false,
    })
    const t = md.topics[0]
    if (t.errorCode !== 0) throw new Error(`Metadata ${topic} failed: ${t.errorCode}`)
    const res = await c.request(2, 7, writeListOffsetsRequest, readListOffsetsResponse, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: topic, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, timestamp: -1n })) },
      ],
    })
    return res.topics[0].partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => Number(p.offset))
  })
}
