/**
 * A small Kafka cluster client on tickflow's own codec, for the stream runtime: bootstrap, topic
 * metadata, one {@link FetchConnection} per broker, and group / transaction coordinators. The
 * runtime speaks the group and transaction protocols itself (src/stream/), so it needs only these
 * primitives; feeds and commands keep @platformatic/kafka for everything else.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import {
  readFindCoordinatorResponse,
  readMetadataResponse,
  writeFindCoordinatorRequest,
  writeMetadataRequest,
} from '../protocol/messages/index.ts'
import type { BusConfig } from './client.ts'
import { FetchConnection } from './fetch-connection.ts'

const METADATA = 3
const METADATA_VERSION = 9
const FIND_COORDINATOR = 10
const FIND_COORDINATOR_VERSION = 3

/** Kafka error codes the cluster client reacts to. */
export const KafkaErrors = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  CONCURRENT_TRANSACTIONS: 51,
  MEMBER_ID_REQUIRED: 79,
  PRODUCER_FENCED: 90,
} as const

/** Coordinator key types of FindCoordinator. */
export const CoordinatorType = { GROUP: 0, TRANSACTION: 1 } as const

/** Errors after which asking the coordinator again (after a lookup) may succeed. */
export const COORDINATOR_ERRORS: ReadonlySet<number> = new Set([
  KafkaErrors.COORDINATOR_LOAD_IN_PROGRESS,
  KafkaErrors.COORDINATOR_NOT_AVAILABLE,
  KafkaErrors.NOT_COORDINATOR,
])

/**
 * Connections to one broker are kept per lane: `default` for requests answered at once (metadata,
 * produce, coordinators), `fetch` for long-polling fetches, so these never wait behind each other.
 */
export type ConnectionLane = 'default' | 'fetch'

/** A topic as metadata describes it: the leader of each partition (−1 when none). */
export interface TopicLayout {
  name: string
  leaders: number[]
}

export class KafkaCluster {
  readonly bus: BusConfig
  private readonly brokers = new Map<number, { host: string; port: number }>()
  private readonly connections = new Map<string, Promise<FetchConnection>>()
  private readonly coordinators = new Map<string, number>()
  private bootstrap: FetchConnection | undefined
  private closed = false

  private constructor(bus: BusConfig) {
    this.bus = bus
  }

  /**
   * Connects to the first reachable bootstrap broker and learns the cluster's brokers.
   * @throws TICKFLOW_ERR_CLOSED when no bootstrap broker answers
   */
  static async connect(bus: BusConfig): Promise<KafkaCluster> {
    const cluster = new KafkaCluster(bus)
    await cluster.topics([])
    return cluster
  }

  /**
   * The layout of `names` (all topics for an empty list is not offered: [] asks for none and only
   * refreshes the broker list). A topic that does not exist is missing from the result.
   */
  async topics(names: string[]): Promise<Map<string, TopicLayout>> {
    return this.metadata(names.map((name) => ({ name })))
  }

  /** The layout of every topic of the cluster. */
  allTopics(): Promise<Map<string, TopicLayout>> {
    return this.metadata(null)
  }

  private async metadata(topics: { name: string }[] | null): Promise<Map<string, TopicLayout>> {
    const response = await this.anyBroker((c) =>
      c.request(METADATA, METADATA_VERSION, writeMetadataRequest, readMetadataResponse, {
        topics,
        allowAutoTopicCreation: false,
      }),
    )
    for (const b of response.brokers) this.brokers.set(b.nodeId, { host: b.host, port: b.port })
    const out = new Map<string, TopicLayout>()
    for (const t of response.topics) {
      if (t.errorCode !== 0 || t.name === null) continue
      const leaders: number[] = []
      for (const p of t.partitions) leaders[p.partitionIndex] = p.errorCode === 0 ? p.leaderId : -1
      out.set(t.name, { name: t.name, leaders: Array.from(leaders, (l) => l ?? -1) })
    }
    return out
  }

  /** The layout of one topic. @throws TICKFLOW_ERR_UNKNOWN_TOPIC when it does not exist */
  async topic(name: string): Promise<TopicLayout> {
    const layout = (await this.topics([name])).get(name)
    if (layout === undefined) throw new TickflowError(ErrorCodes.UNKNOWN_TOPIC, `topic ${name} does not exist`)
    return layout
  }

  /**
   * The connection to broker `node` in `lane`, opened on first use and shared by the lane's users.
   * A broker answers one connection's requests in order, so a Fetch parked for new data holds up
   * every later response on its connection: long-polling readers take a lane of their own (the
   * stream runtime fetches on `fetch`, and commits transactions on `default`).
   */
  connection(node: number, lane: ConnectionLane = 'default'): Promise<FetchConnection> {
    if (this.closed) return Promise.reject(new TickflowError(ErrorCodes.CLOSED, 'cluster client closed'))
    const key = `${lane}:${node}`
    let c = this.connections.get(key)
    if (c === undefined) {
      const broker = this.brokers.get(node)
      if (broker === undefined) {
        return Promise.reject(
          new TickflowError(ErrorCodes.CLOSED, `no address known for broker ${node}`, { retriable: true }),
        )
      }
      c = FetchConnection.connect(broker.host, broker.port, this.bus.clientId).catch((err: Error) => {
        this.connections.delete(key)
        throw new TickflowError(ErrorCodes.CLOSED, `cannot reach broker ${node}: ${err.message}`, {
          cause: err,
          retriable: true,
        })
      })
      this.connections.set(key, c)
    }
    return c
  }

  /** Forgets broker `node`'s connection in `lane` (after a transport error): the next use reconnects. */
  drop(node: number, lane: ConnectionLane = 'default'): void {
    const key = `${lane}:${node}`
    const c = this.connections.get(key)
    this.connections.delete(key)
    void c?.then((x) => x.close()).catch(() => undefined)
  }

  /** The broker coordinating `key` (a group id or a transactional id), looked up once and cached. */
  async coordinator(key: string, type: number): Promise<number> {
    const cacheKey = `${type}:${key}`
    const known = this.coordinators.get(cacheKey)
    if (known !== undefined) return known
    for (let round = 0; ; round++) {
      const response = await this.anyBroker((c) =>
        c.request(
          FIND_COORDINATOR,
          FIND_COORDINATOR_VERSION,
          writeFindCoordinatorRequest,
          readFindCoordinatorResponse,
          {
            key,
            keyType: type,
          },
        ),
      )
      if (response.errorCode === 0) {
        this.brokers.set(response.nodeId, { host: response.host, port: response.port })
        this.coordinators.set(cacheKey, response.nodeId)
        return response.nodeId
      }
      if (!COORDINATOR_ERRORS.has(response.errorCode) || round >= 20) {
        throw new TickflowError(
          ErrorCodes.CLOSED,
          `FindCoordinator for ${key} failed with Kafka error ${response.errorCode}`,
          { retriable: COORDINATOR_ERRORS.has(response.errorCode) },
        )
      }
      await sleep(Math.min(1000, 50 * (round + 1)))
    }
  }

  /**
   * Sends one request to the coordinator of `key`. A transport error drops the connection and
   * the cached coordinator (and is thrown); a response whose top-level error code says the
   * coordinator moved or is loading makes the next call look it up again.
   */
  async toCoordinator<T extends object>(
    key: string,
    type: number,
    send: (c: FetchConnection) => Promise<T>,
  ): Promise<T> {
    const node = await this.coordinator(key, type)
    let response: T
    try {
      response = await send(await this.connection(node))
    } catch (err) {
      this.drop(node)
      this.forgetCoordinator(key, type)
      throw err
    }
    if (COORDINATOR_ERRORS.has((response as { errorCode?: number }).errorCode ?? 0)) this.forgetCoordinator(key, type)
    return response
  }

  /** Forgets a cached coordinator (after NOT_COORDINATOR and the like). */
  forgetCoordinator(key: string, type: number): void {
    this.coordinators.delete(`${type}:${key}`)
  }

  async close(): Promise<void> {
    this.closed = true
    this.bootstrap?.close()
    const all = [...this.connections.values()]
    this.connections.clear()
    for (const c of all) await c.then((x) => x.close()).catch(() => undefined)
  }

  // Runs a cluster-wide request on a known broker, else on a bootstrap address.
  private async anyBroker<T>(send: (c: FetchConnection) => Promise<T>): Promise<T> {
    let lastError: unknown
    for (const node of this.brokers.keys()) {
      try {
        return await send(await this.connection(node))
      } catch (err) {
        lastError = err
        this.drop(node)
      }
    }
    for (const address of this.bus.bootstrapBrokers) {
      const at = address.lastIndexOf(':')
      const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1')
      const port = Number(address.slice(at + 1))
      try {
        if (this.bootstrap === undefined) this.bootstrap = await FetchConnection.connect(host, port, this.bus.clientId)
        return await send(this.bootstrap)
      } catch (err) {
        lastError = err
        this.bootstrap?.close()
        this.bootstrap = undefined
      }
    }
    throw new TickflowError(
      ErrorCodes.CLOSED,
      `no broker of ${this.bus.bootstrapBrokers.join(',')} answers: ${(lastError as Error | undefined)?.message ?? 'no address'}`,
      { cause: lastError, retriable: true },
    )
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
