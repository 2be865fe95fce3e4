/**
 * Broker options and topic configs. Topic configs are Kafka's names and semantics; each is defined
 * once here with its type, default and validation, and DescribeConfigs, CreateTopics,
 * AlterConfigs and the log all read from this table.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { LogConfig } from './log/index.ts'

/** When the broker fsyncs appended data. See README "Durability". */
export type FlushPolicy = 'sync' | 'interval' | 'none'
export const FLUSH_POLICIES: readonly FlushPolicy[] = ['sync', 'interval', 'none']

export interface BrokerOptions {
  /** Host to bind; default 127.0.0.1. */
  host?: string
  /** Port to bind; 0 picks a free one (tests). Default 9092. */
  port?: number
  /** Host:port given to clients in Metadata/FindCoordinator; default the bound address. */
  advertisedHost?: string
  advertisedPort?: number
  /** Where partitions, offsets and broker state live. Default `./data`. */
  dataDir?: string
  nodeId?: number
  /** Create topics on Metadata/Produce when the client allows it. Default true. */
  autoCreateTopics?: boolean
  /** Partitions of auto-created topics and of CreateTopics with -1. Default 1. */
  defaultPartitions?: number
  /**
   * `sync` (default): an acks=all produce is answered after its data is fsynced (concurrent
   * requests share one fsync); acks=1 after the write reached the OS. `interval`: every log is
   * fsynced each flushIntervalMs. `none`: the OS decides when data reaches the disk.
   */
  flushPolicy?: FlushPolicy
  flushIntervalMs?: number
  /** Largest request frame accepted; bigger frames close the connection. Default 100 MiB. */
  maxRequestBytes?: number
  /** Delay of the first rebalance of an empty group. Default 0 (Kafka uses 3000). */
  initialRebalanceDelayMs?: number
  /** How often retention runs. Default 5 minutes. */
  retentionCheckIntervalMs?: number
  /** Defaults for topic configs (Kafka names, e.g. `retention.ms`). */
  topicDefaults?: Record<string, string | number>
  logger?: Logger
  /** Test hooks: fault injection. Not for production use. */
  hooks?: BrokerHooks
}

export interface BrokerHooks {
  /**
   * Called before a response is sent. Returning 'drop' discards it; 'close' destroys the
   * connection instead of answering (the request's effects stay applied), which is how tests make
   * clients retry a produce that did succeed.
   */
  beforeResponse?: (info: { apiKey: number; apiVersion: number; clientId: string | null }) => 'drop' | 'close' | void
}

/** A pino-compatible logger subset. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const noop = (): void => {}
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

export interface ResolvedBrokerOptions {
  host: string
  port: number
  advertisedHost: string | undefined
  advertisedPort: number | undefined
  dataDir: string
  nodeId: number
  autoCreateTopics: boolean
  defaultPartitions: number
  flushPolicy: FlushPolicy
  flushIntervalMs: number
  maxRequestBytes: number
  initialRebalanceDelayMs: number
  retentionCheckIntervalMs: number
  topicDefaults: TopicConfig
  logger: Logger
  hooks: BrokerHooks
}

export function resolveBrokerOptions(o: BrokerOptions): ResolvedBrokerOptions {
  const flushPolicy = o.flushPolicy ?? 'sync'
  if (!FLUSH_POLICIES.includes(flushPolicy)) {
    throw new TickflowError(ErrorCodes.INVALID_CONFIG, `flush policy must be one of ${FLUSH_POLICIES.join(', ')}`)
  }
  const topicDefaults = parseTopicConfigs(
    Object.fromEntries(Object.entries(o.topicDefaults ?? {}).map(([k, v]) => [k, String(v)])),
    DEFAULT_TOPIC_CONFIG,
  )
  if (typeof topicDefaults === 'string') throw new TickflowError(ErrorCodes.INVALID_CONFIG, topicDefaults)
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 9092,
    advertisedHost: o.advertisedHost,
    advertisedPort: o.advertisedPort,
    dataDir: o.dataDir ?? './data',
    nodeId: o.nodeId ?? 0,
    autoCreateTopics: o.autoCreateTopics ?? true,
    defaultPartitions: positive('defaultPartitions', o.defaultPartitions ?? 1),
    flushPolicy,
    flushIntervalMs: positive('flushIntervalMs', o.flushIntervalMs ?? 1000),
    maxRequestBytes: positive('maxRequestBytes', o.maxRequestBytes ?? 100 * 1024 * 1024),
    initialRebalanceDelayMs: o.initialRebalanceDelayMs ?? 0,
    retentionCheckIntervalMs: positive('retentionCheckIntervalMs', o.retentionCheckIntervalMs ?? 5 * 60_000),
    topicDefaults,
    logger: o.logger ?? silentLogger,
    hooks: o.hooks ?? {},
  }
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0)
    throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${name} must be a positive integer`)
  return v
}

// ---------------------------------------------------------------------------------------------
// Topic configs

/** Kafka's config types as DescribeConfigs v3+ reports them. */
export const ConfigType = {
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  class: 8,
  password: 9,
}
/** DescribeConfigs config sources. */
export const ConfigSource = { topic: 1, staticBroker: 4, default: 5 } as const

interface TopicConfigDef {
  type: keyof typeof ConfigType
  default: string
  /** Returns an error message for a bad value, or null. */
  validate: (v: string) => string | null
  doc: string
}

const long =
  (min: number) =>
  (v: string): string | null =>
    /^-?\d+$/.test(v) && Number(v) >= min && Number.isSafeInteger(Number(v)) ? null : `must be an integer >= ${min}`
const oneOf =
  (...values: string[]) =>
  (v: string): string | null =>
    values.includes(v) ? null : `must be one of ${values.join(', ')}`

/** The topic configs this broker understands, with Kafka's defaults. */
export const TOPIC_CONFIG_DEFS: Record<string, TopicConfigDef> = {
  'retention.ms': {
    type: 'long',
    default: String(7 * 24 * 3600_000),
    validate: long(-1),
    doc: 'Delete whole segments whose newest record is older than this; -1 keeps them forever.',
  },
  'retention.bytes': {
    type: 'long',
    default: '-1',
    validate: long(-1),
    doc: 'Delete the oldest segments while a partition is larger than this; -1 means no limit.',
  },
  'segment.bytes': {
    type: 'int',
    default: String(1024 * 1024 * 1024),
    validate: long(14),
    doc: 'Roll to a new segment file when the active one would exceed this size.',
  },
  'segment.ms': {
    type: 'long',
    default: String(7 * 24 * 3600_000),
    validate: long(1),
    doc: 'Roll to a new segment file when the active one is older than this.',
  },
  'max.message.bytes': {
    type: 'int',
    default: String(1024 * 1024 + 12),
    validate: long(0),
    doc: 'Largest record batch accepted; bigger ones are refused with MESSAGE_TOO_LARGE.',
  },
  'index.interval.bytes': {
    type: 'int',
    default: '4096',
    validate: long(0),
    doc: 'Bytes of log between two offset-index entries.',
  },
  'cleanup.policy': {
    type: 'list',
    default: 'delete',
    validate: oneOf('delete'),
    doc: 'Only delete is supported (no log compaction).',
  },
  'message.timestamp.type': {
    type: 'string',
    default: 'CreateTime',
    validate: oneOf('CreateTime'),
    doc: 'Records keep the timestamp their producer gave them.',
  },
  'compression.type': {
    type: 'string',
    default: 'producer',
    validate: oneOf('producer'),
    doc: 'Batches are stored as the producer compressed them.',
  },
  'min.insync.replicas': {
    type: 'int',
    default: '1',
    validate: oneOf('1'),
    doc: 'A single broker: always 1.',
  },
}

/** Effective configs of a topic: every key of TOPIC_CONFIG_DEFS. */
export type TopicConfig = Record<string, string>

export const DEFAULT_TOPIC_CONFIG: TopicConfig = Object.fromEntries(
  Object.entries(TOPIC_CONFIG_DEFS).map(([k, d]) => [k, d.default]),
)

/**
 * Validates overrides and merges them over `base`. Returns the merged config, or an error message
 * naming the offending key.
 */
export function parseTopicConfigs(overrides: Record<string, string | null>, base: TopicConfig): TopicConfig | string {
  const out = { ...base }
  for (const [key, value] of Object.entries(overrides)) {
    // hasOwn: names such as "toString" or "__proto__" must not find Object.prototype members.
    const def = Object.hasOwn(TOPIC_CONFIG_DEFS, key) ? TOPIC_CONFIG_DEFS[key] : undefined
    if (def === undefined) return `unknown topic config ${key}`
    if (value === null) return `config ${key} needs a value`
    const problem = def.validate(value)
    if (problem !== null) return `${key} ${problem}`
    out[key] = value
  }
  return out
}

export function logConfigOf(c: TopicConfig): LogConfig {
  return {
    segmentBytes: Number(c['segment.bytes']),
    segmentMs: Number(c['segment.ms']),
    retentionMs: Number(c['retention.ms']),
    retentionBytes: Number(c['retention.bytes']),
    indexIntervalBytes: Number(c['index.interval.bytes']),
  }
}
