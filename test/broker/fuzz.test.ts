/**
 * Robustness: a seeded generator throws random bytes and mutated requests of every registered API
 * at the broker over many connections, and after each round checks that the broker still answers
 * a fresh client correctly, that nothing escaped as an uncaught exception or unhandled rejection,
 * and that no handler failed on a request it could decode (a malformed frame must only close its
 * own connection). TICKFLOW_FUZZ_SEED replays a run's frames.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { registerApis } from '../../src/broker/apis/index.ts'
import type { Logger } from '../../src/broker/index.ts'
import { ApiRegistry } from '../../src/broker/registry.ts'
import { isTickflowError } from '../../src/errors.ts'
import { KafkaError } from '../../src/protocol/error-codes.ts'
import * as messages from '../../src/protocol/messages/index.ts'
import { apiKeys, requestHeaderVersion } from '../../src/protocol/messages/index.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import type { Writer } from '../../src/protocol/writer.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { encodeRequestFrame, RawClient } from '../helpers/raw-client.ts'
import { batchOf, fetchOne, mustCreateTopic, produce, recordsOf, topicIdOf } from '../helpers/wire.ts'

const SEED = Number(process.env.TICKFLOW_FUZZ_SEED ?? 20240611)
const ROUNDS = 10
const CONNECTIONS_PER_ROUND = 80
const PARALLEL = 8
const MAX_VALID_PER_CONNECTION = 10
const MAX_MUTATED_PER_CONNECTION = 3

/** mulberry32: small, fast and good enough to drive a fuzzer reproducibly. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1))
  return {
    next,
    int,
    pick: <T>(list: readonly T[]): T => list[int(0, list.length - 1)],
    chance: (p: number): boolean => next() < p,
    bytes: (n: number): Buffer => {
      const b = Buffer.alloc(n)
      for (let i = 0; i < n; i++) b[i] = int(0, 255)
      return b
    },
  }
}
type Rng = ReturnType<typeof prng>

type Encode = (w: Writer, version: number, body: unknown) => unknown
type Decode = (r: Reader, version: number) => unknown

/** The generated request codecs of an API key, found by its name. */
function codecsOf(apiKey: number): { write: Encode; read: Decode } {
  const name = apiKeys[apiKey]?.name
  const table = messages as unknown as Record<string, Encode & Decode>
  const write = table[`write${name}Request`]
  const read = table[`read${name}Request`]
  assert.ok(write !== undefined && read !== undefined, `codecs of API ${apiKey}`)
  return { write, read }
}

interface Fixture {
  topicId: Buffer
}

/** Strings that have tripped up servers: empty, prototype keys, too long, non-ASCII, reserved. */
const ODD_STRINGS = [
  '',
  'toString',
  '__proto__',
  'constructor',
  'x'.repeat(300),
  'ünïcødé',
  '..',
  'a.deleting-1',
  'nul\u0000',
  ' ',
]
const ODD_INT32 = [-1, -0x80000000, 0x7fffffff, 1_000_000]

/**
 * A plausible request body per API key, aimed at the fuzz topic and groups so that handlers do
 * real work; writers fill in whatever a version lacks or ignore what it does not have.
 */
function sampleBody(apiKey: number, version: number, rng: Rng, fx: Fixture): unknown {
  // Now and then a value from a dictionary of troublemakers instead of the usual one.
  const str = (usual: string): string => (rng.chance(0.06) ? rng.pick(ODD_STRINGS) : usual)
  const topic = str('fuzz')
  const group = str(`fuzz-group-${rng.int(0, 3)}`)
  const partition = rng.chance(0.05) ? rng.pick(ODD_INT32) : rng.int(0, 2)
  const config = { name: str('retention.ms'), value: str('604800000') }
  switch (apiKey) {
    case 0:
      return {
        transactionalId: null,
        acks: rng.pick([-1, 0, 1]),
        timeoutMs: 1000,
        topicData: [
          {
            name: topic,
            partitionData: [
              {
                index: partition,
                records: rng.chance(0.3)
                  ? buildRecordBatch([{ value: 'idem' }], {
                      producerId: rng.int(0, 5),
                      producerEpoch: rng.int(0, 2),
                      baseSequence: rng.int(0, 10),
                    })
                  : batchOf(['a', 'bb', 'ccc'].slice(0, rng.int(1, 3)), {
                      compression: rng.pick(['none', 'gzip'] as const),
                    }),
              },
            ],
          },
        ],
      }
    case 1:
      return {
        maxWaitMs: rng.int(0, 20),
        minBytes: rng.int(0, 2),
        maxBytes: rng.pick([100, 1 << 20]),
        isolationLevel: rng.int(0, 1),
        topics: [
          {
            topic,
            topicId: fx.topicId,
            partitions: [
              { partition, fetchOffset: BigInt(rng.int(0, 20)), partitionMaxBytes: rng.pick([10, 1 << 20]) },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      }
    case 2:
      return {
        replicaId: -1,
        isolationLevel: rng.int(0, 1),
        topics: [
          {
            name: topic,
            partitions: [{ partitionIndex: partition, timestamp: BigInt(rng.pick([-1, -2, -3, 0, Date.now()])) }],
          },
        ],
      }
    case 3:
      return {
        topics: rng.chance(0.3)
          ? null
          : [
              { name: topic, topicId: fx.topicId },
              { name: `fuzz-auto-${rng.int(0, 5)}` },
              { name: version >= 10 ? null : 'x', topicId: fx.topicId },
            ],
        allowAutoTopicCreation: rng.chance(0.5),
      }
    case 8:
      return {
        groupId: group,
        generationIdOrMemberEpoch: rng.pick([-1, 0, 1]),
        memberId: '',
        topics: [
          { name: topic, partitions: [{ partitionIndex: partition, committedOffset: 1n, committedMetadata: 'm' }] },
        ],
      }
    case 9:
      return {
        groupId: group,
        topics: version >= 2 && rng.chance(0.5) ? null : [{ name: topic, partitionIndexes: [0, 1] }],
        groups: [{ groupId: group, topics: rng.chance(0.5) ? null : [{ name: topic, partitionIndexes: [0] }] }],
      }
    case 10:
      return { key: group, keyType: rng.int(0, 1), coordinatorKeys: [group, 'other'] }
    case 11:
      return {
        groupId: `fuzz-join-${rng.int(0, 3)}`,
        sessionTimeoutMs: 6000,
        rebalanceTimeoutMs: rng.int(1, 50),
        memberId: '',
        protocolType: 'consumer',
        protocols: [
          { name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1, 0, 4, 102, 117, 122, 122, 255, 255, 255, 255]) },
        ],
      }
    case 12:
      return { groupId: group, generationId: 1, memberId: 'm' }
    case 13:
      return { groupId: group, memberId: 'm', members: [{ memberId: 'm' }] }
    case 14:
      return {
        groupId: group,
        generationId: 1,
        memberId: 'm',
        assignments: [{ memberId: 'm', assignment: Buffer.from([0, 0]) }],
      }
    case 15:
      return { groups: [group, 'unknown'] }
    case 16:
      return { statesFilter: rng.chance(0.5) ? ['Stable'] : [], typesFilter: rng.chance(0.5) ? ['classic'] : [] }
    case 18:
      return { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' }
    case 19:
      return {
        topics: [{ name: 'fuzz-new', numPartitions: 2, replicationFactor: 1, configs: [config] }],
        timeoutMs: 1000,
        validateOnly: true,
      }
    case 20:
      return {
        topicNames: [str('fuzz-missing')],
        topics: [{ name: null, topicId: Buffer.alloc(16, 1) }],
        timeoutMs: 1000,
      }
    case 21:
      return { topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset: 0n }] }], timeoutMs: 1000 }
    case 22:
      return { transactionalId: null, transactionTimeoutMs: 1000, producerId: -1n, producerEpoch: -1 }
    case 23:
      return { topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }
    case 32:
      return {
        resources: [
          { resourceType: 2, resourceName: topic, configurationKeys: rng.chance(0.5) ? null : [config.name] },
          { resourceType: 4, resourceName: '0', configurationKeys: null },
        ],
        includeSynonyms: rng.chance(0.5),
        includeDocumentation: rng.chance(0.5),
      }
    case 33:
      return {
        resources: [{ resourceType: 2, resourceName: topic, configs: [config] }],
        validateOnly: true,
      }
    case 37:
      return { topics: [{ name: topic, count: 4, assignments: null }], timeoutMs: 1000, validateOnly: true }
    case 42:
      return { groupsNames: [str('fuzz-gone')] }
    case 44:
      return {
        resources: [{ resourceType: 2, resourceName: topic, configs: [{ ...config, configOperation: rng.int(0, 1) }] }],
        validateOnly: true,
      }
    case 47:
      return { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }] }
    case 60:
      return { includeClusterAuthorizedOperations: false, endpointType: 1 }
    default:
      return {}
  }
}

/** Mutations: bit flips, truncation, extreme length fields, garbage appended, a wrong size prefix. */
function mutate(frame: Buffer, rng: Rng): Buffer {
  let out: Buffer = Buffer.from(frame)
  const fixSize = (): void => {
    out.writeInt32BE(out.length - 4, 0)
  }
  for (let n = rng.int(1, 3); n > 0; n--) {
    switch (rng.int(0, 4)) {
      case 0:
        for (let k = rng.int(1, 4); k > 0; k--) {
          const at = rng.int(4, out.length - 1)
          out[at] ^= 1 << rng.int(0, 7)
        }
        break
      case 1:
        out = out.subarray(0, rng.int(4, out.length - 1))
        // Mostly keep the size prefix truthful: otherwise the broker waits for bytes that the
        // next frame then provides, which a few cases are enough to cover.
        if (rng.chance(0.8)) fixSize()
        break
      case 2: {
        // Where a length or count lives the value becomes extreme: -1, 0, huge, or a long varint.
        const at = rng.int(12, Math.max(12, out.length - 4))
        if (at + 4 > out.length) break
        const kind = rng.int(0, 2)
        if (kind === 0) out.writeInt16BE(rng.pick([-1, -2, 0, 0x7fff, -0x8000]), at)
        else if (kind === 1) out.writeInt32BE(rng.pick([-1, -2, 0, 0x7fffffff, -0x80000000, 1 << 20]), at)
        else out.fill(rng.pick([0x00, 0x7f, 0x80, 0xff]), at, at + rng.int(1, 4))
        break
      }
      case 3:
        out = Buffer.concat([out, rng.bytes(rng.int(1, 64))])
        fixSize()
        break
      default:
        out.writeInt32BE(out.length - 4 + rng.pick([-3, -1, 1, 2, 100]), 0)
    }
  }
  return out
}

/** Random bytes: pure noise, a plausible size with noise, or a valid header with a noise body. */
function noiseFrame(rng: Rng, keys: readonly number[]): Buffer {
  const kind = rng.int(0, 2)
  if (kind === 0) return rng.bytes(rng.int(1, 64))
  const body = rng.bytes(rng.int(0, 200))
  const head = Buffer.alloc(kind === 1 ? 4 : 14)
  if (kind === 2) {
    const key = rng.pick(keys)
    const [lo, hi] = apiKeys[key]?.validVersions ?? [0, 0]
    head.writeInt16BE(key, 4)
    head.writeInt16BE(rng.int(lo, hi), 6)
    head.writeInt32BE(rng.int(0, 1000), 8)
    head.writeInt16BE(rng.pick([-1, 0, 4]), 12)
  }
  const frame = Buffer.concat([head, body])
  frame.writeInt32BE(frame.length - 4, 0)
  return frame
}

/**
 * True for requests too costly to send: creating many partitions is legitimate but fills the
 * disk (a flipped bit in a partition count asks for up to 100,000 of them).
 */
function tooExpensive(frame: Buffer): boolean {
  try {
    const r = new Reader(frame, 4)
    const apiKey = r.readInt16()
    const version = r.readInt16()
    if (apiKey !== 19 && apiKey !== 37) return false
    r.readInt32()
    r.readNullableString()
    if (requestHeaderVersion(apiKey, version) >= 2) r.readTaggedFields()
    const body = codecsOf(apiKey).read(r, version) as {
      validateOnly: boolean
      topics: Array<{ numPartitions?: number; count?: number; assignments?: unknown[] | null }>
    }
    if (body.validateOnly) return false
    return body.topics.some(
      (x) => (x.numPartitions ?? 0) > 16 || (x.count ?? 0) > 16 || (x.assignments?.length ?? 0) > 16,
    )
  } catch {
    return false
  }
}

interface Captured {
  errors: Array<{ obj: object; msg?: string }>
  handlerCloses: Array<{ reason: string; code: string | undefined }>
}

/** Keeps error logs, and connection closes caused by a handler (or its response encoding). */
function capturingLogger(): Logger & Captured {
  const errors: Captured['errors'] = []
  const handlerCloses: Captured['handlerCloses'] = []
  const noop = (): void => {}
  return {
    errors,
    handlerCloses,
    info: noop,
    warn: noop,
    error: (obj, msg) => errors.push({ obj, msg }),
    debug: (obj, msg) => {
      const o = obj as { reason?: unknown; err?: unknown }
      if (msg === 'closing connection' && typeof o.reason === 'string' && o.reason.endsWith('handler failed')) {
        handlerCloses.push({ reason: o.reason, code: isTickflowError(o.err) ? o.err.code : undefined })
      }
    },
  }
}

test('fuzz: random and mutated frames over many connections never take the broker down', async (t) => {
  const rng = prng(SEED)
  t.diagnostic(`seed ${SEED} (set TICKFLOW_FUZZ_SEED to replay)`)
  const escaped: unknown[] = []
  const onEscape = (err: unknown): void => void escaped.push(err)
  process.on('uncaughtException', onEscape)
  process.on('unhandledRejection', onEscape)
  t.after(() => {
    process.off('uncaughtException', onEscape)
    process.off('unhandledRejection', onEscape)
  })

  const logger = capturingLogger()
  // Answers per API key, to show that the frames reach the handlers.
  const answered = new Map<number, number>()
  // flushPolicy none: thousands of commits and produces without an fsync each.
  const broker = await startTestBroker(t, {
    logger,
    flushPolicy: 'none',
    maxRequestBytes: 1 << 20,
    hooks: { beforeResponse: (info) => void answered.set(info.apiKey, (answered.get(info.apiKey) ?? 0) + 1) },
  })
  const registry = registerApis(new ApiRegistry()).list()
  const keys = registry.map((a) => a.key)
  const expectedApis = registry.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion }))

  const admin = await RawClient.connect(broker.port)
  t.after(() => admin.close())
  await mustCreateTopic(admin, 'fuzz', 3)
  await mustCreateTopic(admin, 'health')
  const fx: Fixture = { topicId: (await topicIdOf(admin, 'fuzz')) as Buffer }

  let framesSent = 0
  let healthOffset = 0

  /** The writes of one connection, drawn synchronously so that a seed always yields the same ones. */
  const planConnection = (): Buffer[] => {
    const frames: Buffer[] = []
    if (rng.chance(0.2)) {
      frames.push(noiseFrame(rng, keys))
    } else {
      // Valid frames first (every API at every version, handlers and encoders at work), then
      // mutated ones: the first that fails to decode closes the connection and the rest is lost.
      const valid = rng.int(0, MAX_VALID_PER_CONNECTION)
      const total = valid + rng.int(1, MAX_MUTATED_PER_CONNECTION)
      for (let n = 0; n < total; n++) {
        const api = rng.pick(registry)
        const version = rng.int(api.minVersion, api.maxVersion)
        const frame = encodeRequestFrame(
          api.key,
          version,
          rng.int(0, 0x7fffffff),
          codecsOf(api.key).write,
          sampleBody(api.key, version, rng, fx),
          rng.pick(['fuzz', null, '']),
        )
        const sent = n < valid ? frame : mutate(frame, rng)
        if (!tooExpensive(sent)) frames.push(sent)
      }
    }
    framesSent += frames.length
    // Random write boundaries: frames split and joined anywhere.
    const all = Buffer.concat(frames)
    const writes: Buffer[] = []
    for (let at = 0; at < all.length;) {
      const end = rng.chance(0.5) ? all.length : Math.min(all.length, at + rng.int(1, 300))
      writes.push(all.subarray(at, end))
      at = end
    }
    return writes
  }

  const oneConnection = async (writes: Buffer[]): Promise<void> => {
    const c = await RawClient.connect(broker.port)
    try {
      for (const w of writes) c.sendFrame(w).catch(() => {})
      // Half-close: the broker reads everything sent, then closes (or has closed already).
      c.end()
      await c.closed
    } finally {
      c.close()
    }
  }

  const healthCheck = async (round: number): Promise<void> => {
    const c = await RawClient.connect(broker.port)
    try {
      for (const version of [0, 3]) {
        const res = await c.request(18, version, messages.writeApiVersionsRequest, messages.readApiVersionsResponse, {
          clientSoftwareName: 'health',
          clientSoftwareVersion: '1',
        })
        assert.equal(res.errorCode, KafkaError.NONE)
        assert.deepEqual(res.apiKeys, expectedApis)
      }
      const p = await produce(c, 'health', 0, batchOf([`round-${round}`]))
      assert.equal(p.errorCode, KafkaError.NONE)
      assert.equal(p.baseOffset, BigInt(healthOffset))
      const f = await fetchOne(c, 12, { topic: 'health', offset: healthOffset })
      assert.deepEqual(recordsOf(f.records), [{ offset: healthOffset, value: `round-${round}` }])
      healthOffset++
    } finally {
      c.close()
    }
    assert.deepEqual(escaped, [], `round ${round}: uncaught exceptions or unhandled rejections`)
  }

  for (let round = 0; round < ROUNDS; round++) {
    let started = 0
    const worker = async (): Promise<void> => {
      while (started < CONNECTIONS_PER_ROUND) {
        started++
        await oneConnection(planConnection())
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, worker))
    await healthCheck(round)
  }
  t.diagnostic(`${framesSent} frames over ${ROUNDS * CONNECTIONS_PER_ROUND} connections`)
  t.diagnostic(`answers by API key: ${JSON.stringify(Object.fromEntries([...answered].sort((a, b) => a[0] - b[0])))}`)
  // Most keys must have been answered at least once, or the generator stopped reaching handlers.
  assert.ok(answered.size >= keys.length - 2, `answered keys: ${[...answered.keys()].join(',')}`)
  assert.ok(framesSent >= 2000, `only ${framesSent} frames`)
  // A handler that throws on a request it could decode is a bug, even though only that
  // connection pays for it: list each distinct failure.
  const failures = new Set(
    logger.errors
      .filter((e) => e.msg === 'request handler failed')
      .map((e) => {
        const { api, err } = e.obj as { api?: string; err?: unknown }
        return `${api}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`
      }),
  )
  // TickflowErrors are not logged (e.g. a response that cannot be encoded): the close reasons say.
  for (const c of logger.handlerCloses) if (c.code !== undefined) failures.add(`${c.reason} (${c.code})`)
  assert.deepEqual([...failures], [], `handlers failed on decodable requests (seed ${SEED})`)
})
