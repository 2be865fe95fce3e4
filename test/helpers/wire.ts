/**
 * Protocol-level helpers for the broker's handler tests: a raw connection closed after the test,
 * brokers restartable on one data directory, and typed shortcuts for the requests most tests
 * need (produce one batch, fetch partitions, create topics, look up topic ids).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.ts'
import { decodeBatches } from '../../src/protocol/batch-decoder.ts'
import { crc32c } from '../../src/protocol/crc32c.ts'
import {
  readCreateTopicsResponse,
  readDescribeConfigsResponse,
  readFetchResponse,
  readInitProducerIdResponse,
  readListOffsetsResponse,
  readMetadataResponse,
  readProduceResponse,
  writeCreateTopicsRequest,
  writeDescribeConfigsRequest,
  writeFetchRequest,
  writeInitProducerIdRequest,
  writeListOffsetsRequest,
  writeMetadataRequest,
  writeProduceRequest,
  type CreateTopicsRequestInput,
  type CreateTopicsResponse,
  type FetchResponse,
  type FetchResponsePartitionData,
  type ListOffsetsResponseListOffsetsPartitionResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../src/protocol/messages/index.ts'
import { buildRecordBatch, Offsets, type BuildBatchOptions } from '../../src/protocol/record-batch.ts'
import { RawClient } from './raw-client.ts'

/** A raw connection to `broker`, closed after the test. */
export async function connect(t: TestContext, broker: { port: number }): Promise<RawClient> {
  const c = await RawClient.connect(broker.port)
  t.after(() => c.close())
  return c
}

/**
 * One data directory for brokers started one after another (restart tests). Cleanup closes every
 * broker first, then removes the directory (t.after hooks run in registration order, so a
 * separate tempDir hook would remove it under a still-open broker).
 */
export function brokerHome(
  t: TestContext,
  defaults: BrokerOptions = {},
): { dir: string; start: (options?: BrokerOptions) => Promise<Broker> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-broker-'))
  const started: Broker[] = []
  t.after(async () => {
    for (const b of started) await b.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    async start(options = {}) {
      const b = await startBroker({ host: '127.0.0.1', port: 0, ...defaults, ...options, dataDir: dir })
      started.push(b)
      return b
    },
  }
}

/** One record batch whose records carry `values` (string values, no keys). */
export function batchOf(values: readonly string[], options: BuildBatchOptions = {}): Buffer {
  return buildRecordBatch(
    values.map((value) => ({ value })),
    options,
  )
}

/** Recomputes the CRC of a batch after a test patched bytes it covers. */
export function fixCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch, Offsets.attributes), Offsets.crc)
  return batch
}

/** Offsets and values of every record in some fetched record bytes. */
export function recordsOf(records: Buffer | null): Array<{ offset: number; value: string | null }> {
  if (records === null) return []
  return decodeBatches(records).flatMap((b) =>
    b.records.map((r) => ({ offset: r.offset, value: r.value === null ? null : r.value.toString() })),
  )
}

export interface ProduceOptions {
  version?: number
  acks?: number
  transactionalId?: string | null
}

/** Produces `records` to one partition and returns that partition's answer. */
export async function produce(
  c: RawClient,
  topic: string,
  partition: number,
  records: Buffer | null,
  o: ProduceOptions = {},
): Promise<ProduceResponsePartitionProduceResponse> {
  const version = o.version ?? 11
  const res = await c.request(0, version, writeProduceRequest, readProduceResponse, {
    transactionalId: o.transactionalId ?? null,
    acks: o.acks ?? -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  })
  return res.responses[0].partitionResponses[0]
}

export interface FetchTarget {
  topic?: string
  topicId?: Buffer
  partition?: number
  offset: number
  partitionMaxBytes?: number
}

export interface FetchOptions {
  maxBytes?: number
  minBytes?: number
  maxWaitMs?: number
  isolationLevel?: number
}

/** The Fetch request body for `targets`, each its own topic entry. */
export function fetchBody(version: number, targets: readonly FetchTarget[], o: FetchOptions = {}) {
  return {
    maxWaitMs: o.maxWaitMs ?? 0,
    minBytes: o.minBytes ?? 0,
    maxBytes: o.maxBytes ?? 50 * 1024 * 1024,
    isolationLevel: o.isolationLevel ?? 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: targets.map((x) => ({
      topic: version < 13 ? (x.topic ?? '') : '',
      topicId: x.topicId ?? Buffer.alloc(16),
      partitions: [
        {
          partition: x.partition ?? 0,
          fetchOffset: BigInt(x.offset),
          partitionMaxBytes: x.partitionMaxBytes ?? 1 << 20,
        },
      ],
    })),
    forgottenTopicsData: [],
    rackId: '',
  }
}

/** Fetches several partitions in one request. */
export function fetchMany(
  c: RawClient,
  version: number,
  targets: readonly FetchTarget[],
  o: FetchOptions = {},
): Promise<FetchResponse> {
  return c.request(1, version, writeFetchRequest, readFetchResponse, fetchBody(version, targets, o))
}

/** Fetches one partition and returns its answer. */
export async function fetchOne(
  c: RawClient,
  version: number,
  target: FetchTarget,
  o: FetchOptions = {},
): Promise<FetchResponsePartitionData> {
  const res = await fetchMany(c, version, [target], o)
  return res.responses[0].partitions[0]
}

/** ListOffsets for one partition. */
export async function listOffset(
  c: RawClient,
  topic: string,
  partition: number,
  timestamp: number,
  o: { version?: number; isolationLevel?: number } = {},
): Promise<ListOffsetsResponseListOffsetsPartitionResponse> {
  const res = await c.request(2, o.version ?? 9, writeListOffsetsRequest, readListOffsetsResponse, {
    replicaId: -1,
    isolationLevel: o.isolationLevel ?? 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: BigInt(timestamp) }] }],
  })
  return res.topics[0].partitions[0]
}

/** CreateTopics (v7 unless told); returns the whole answer. */
export function createTopics(
  c: RawClient,
  topics: NonNullable<CreateTopicsRequestInput['topics']>,
  o: { version?: number; validateOnly?: boolean } = {},
): Promise<CreateTopicsResponse> {
  return c.request(19, o.version ?? 7, writeCreateTopicsRequest, readCreateTopicsResponse, {
    topics,
    timeoutMs: 10_000,
    validateOnly: o.validateOnly ?? false,
  })
}

/** Creates one topic and fails the test unless that worked. */
export async function mustCreateTopic(
  c: RawClient,
  name: string,
  partitions = 1,
  configs: Record<string, string> = {},
): Promise<Buffer> {
  const res = await createTopics(c, [
    {
      name,
      numPartitions: partitions,
      replicationFactor: 1,
      configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
    },
  ])
  const t = res.topics[0]
  if (t.errorCode !== 0) throw new Error(`CreateTopics ${name} failed: ${t.errorCode} ${t.errorMessage}`)
  return t.topicId
}

/** The topic's id as Metadata v12 reports it (undefined when the topic does not exist). */
export async function topicIdOf(c: RawClient, name: string): Promise<Buffer | undefined> {
  const md = await c.request(3, 12, writeMetadataRequest, readMetadataResponse, {
    topics: [{ name, topicId: Buffer.alloc(16) }],
    allowAutoTopicCreation: false,
  })
  const t = md.topics[0]
  return t.errorCode === 0 ? t.topicId : undefined
}

/** Names of every topic, sorted (Metadata v12 with topics = null). */
export async function topicNames(c: RawClient): Promise<string[]> {
  const md = await c.request(3, 12, writeMetadataRequest, readMetadataResponse, {
    topics: null,
    allowAutoTopicCreation: false,
  })
  return md.topics.map((t) => t.name ?? '').sort()
}

/** A fresh idempotent producer id (InitProducerId v4, no transactional id). */
export async function newProducerId(c: RawClient): Promise<{ producerId: number; producerEpoch: number }> {
  const res = await c.request(22, 4, writeInitProducerIdRequest, readInitProducerIdResponse, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: -1n,
    producerEpoch: -1,
  })
  if (res.errorCode !== 0) throw new Error(`InitProducerId failed: ${res.errorCode}`)
  return { producerId: Number(res.producerId), producerEpoch: res.producerEpoch }
}

/** A topic's configs as DescribeConfigs v4 reports them: name -> [value, source]. */
export async function topicConfigs(c: RawClient, topic: string): Promise<Map<string, [string | null, number]>> {
  const res = await c.request(32, 4, writeDescribeConfigsRequest, readDescribeConfigsResponse, {
    resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }],
  })
  return new Map(res.results[0].configs.map((x) => [x.name, [x.value, x.configSource]]))
}
