/**
 * A buffered, idempotent writer to one topic over `@platformatic/kafka`. Records are sent in
 * chunks with one chunk in flight while the caller fills the next, so generating and sending
 * overlap. The producer is idempotent with acks=all: a retried chunk (a dropped response, a broken
 * connection) is deduplicated by the broker, so every record lands exactly once.
 */
import { compatibilityPartitioner, Producer, stringSerializer } from '@platformatic/kafka'
import type { MessageToProduce } from '@platformatic/kafka'
import type { BusConfig } from './client.ts'

/** Compression codecs a writer can use. */
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type Compression = (typeof COMPRESSIONS)[number]

export interface TopicWriterOptions {
  topic: string
  /** Records per produce request (default 5000). */
  chunkSize?: number
  /** How long a partly filled chunk waits for more records before it is sent (default 5 ms). */
  lingerMs?: number
  compression?: Compression
}

type Message = MessageToProduce<Buffer, Buffer, string, string>

/** Writes records to one topic; `acked` counts the records the cluster has acknowledged. */
export class TopicWriter {
  readonly topic: string
  /** Records acknowledged by the cluster. */
  acked = 0
  private readonly producer: Producer<Buffer, Buffer, string, string>
  private readonly chunkSize: number
  private readonly lingerMs: number
  private linger: NodeJS.Timeout | undefined
  private readonly keys = new Map<string, Buffer>()
  private pending: Message[] = []
  private inflight: Promise<void> | undefined
  private failure: unknown

  constructor(bus: BusConfig, options: TopicWriterOptions) {
    this.topic = options.topic
    this.chunkSize = options.chunkSize ?? 5000
    this.lingerMs = options.lingerMs ?? 5
    this.producer = new Producer({
      clientId: bus.clientId,
      bootstrapBrokers: bus.bootstrapBrokers,
      idempotent: true,
      acks: -1,
      compression: options.compression ?? 'none',
      retries: 10,
      retryDelay: 250,
      serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
      // Kafka's partitioner (murmur2 & 0x7fffffff, as the Java client, KafkaJS and librdkafka's
      // murmur2_random): the client's default (murmur2 >>> 0) puts some keys elsewhere whenever the
      // partition count is not a power of two.
      partitioner: compatibilityPartitioner,
    })
  }

  /**
   * Queues one record. Returns a promise when the caller should wait before writing more (a chunk
   * is full and the previous one is still in flight), undefined otherwise.
   * @throws the error of an earlier chunk that failed after its retries
   */
  write(key: string | undefined, value: string | Buffer, headers?: Record<string, string>): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure
    this.pending.push({
      topic: this.topic,
      key: key === undefined ? undefined : this.keyBuffer(key),
      value: typeof value === 'string' ? Buffer.from(value) : value,
      headers,
    })
    return this.queued()
  }

  /** Queues a prepared message (e.g. a dead letter to another topic). */
  writeMessage(message: Message): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure
    this.pending.push(message)
    return this.queued()
  }

  // A full chunk is sent now (the caller waits); a partial one after the linger time.
  private queued(): Promise<void> | undefined {
    if (this.pending.length >= this.chunkSize) return this.dispatch()
    this.linger ??= setTimeout(() => {
      this.linger = undefined
      void this.dispatch()
    }, this.lingerMs)
    return undefined
  }

  /** Sends everything queued and waits for its acknowledgement. */
  async flush(): Promise<void> {
    while ((this.pending.length > 0 && this.failure === undefined) || this.inflight !== undefined) {
      await this.dispatch()
      if (this.inflight !== undefined) await this.inflight
    }
    if (this.failure !== undefined) throw this.failure
  }

  /** Flushes, then closes the producer. */
  async close(): Promise<void> {
    clearTimeout(this.linger)
    try {
      await this.flush()
    } finally {
      await this.producer.close()
    }
  }

  private keyBuffer(key: string): Buffer {
    let buf = this.keys.get(key)
    if (buf === undefined) {
      buf = Buffer.from(key)
      if (this.keys.size < 10_000) this.keys.set(key, buf)
    }
    return buf
  }

  // Waits for the chunk in flight, then sends the pending one and returns while it is in flight;
  // one chunk in flight at a time keeps the records of a partition in order across retries.
  private async dispatch(): Promise<void> {
    while (this.inflight !== undefined) await this.inflight
    if (this.pending.length === 0 || this.failure !== undefined) return
    clearTimeout(this.linger)
    this.linger = undefined
    const messages = this.pending
    this.pending = []
    this.inflight = this.producer.send({ messages }).then(
      () => {
        this.acked += messages.length
        this.inflight = undefined
      },
      (err: unknown) => {
        this.failure ??= err
        this.inflight = undefined
      },
    )
  }
}
