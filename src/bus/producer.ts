/**
 * A buffered, idempotent writer to one topic over `@platformatic/kafka`. Records are sent in
 * chunks with one chunk in flight while the caller fills the next, so generating and sending
 * overlap. The producer is idempotent with acks=all: a retried chunk (a dropped response, a broken
 * connection) is deduplicated by the broker, so every record lands exactly once.
 */
import { compatibilityPartitioner, Producer, stringSerializer } from '@platformatic/kafka'
import type { MessageToProduce } from '@platformatic/kafka'
import type { BusConfig } from './client.ts'
import { ChunkedWriter, type RecordWriter } from './chunked-writer.ts'

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
export class TopicWriter extends ChunkedWriter<Message> implements RecordWriter {
  private readonly producer: Producer<Buffer, Buffer, string, string>

  constructor(bus: BusConfig, options: TopicWriterOptions) {
    super(options.topic, options.chunkSize ?? 5000, options.lingerMs ?? 5)
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

  /** Queues one record; see {@link ChunkedWriter.enqueue} for the returned promise. */
  write(key: string | undefined, value: string | Buffer, headers?: Record<string, string>): Promise<void> | undefined {
    return this.enqueue({
      topic: this.topic,
      key: key === undefined ? undefined : this.keyBuffer(key),
      value: typeof value === 'string' ? Buffer.from(value) : value,
      headers,
    })
  }

  /** Queues a prepared message (e.g. a dead letter to another topic). */
  writeMessage(message: Message): Promise<void> | undefined {
    return this.enqueue(message)
  }

  protected async sendChunk(messages: Message[]): Promise<void> {
    await this.producer.send({ messages })
    this.acked += messages.length
  }

  protected async release(): Promise<void> {
    await this.producer.close()
  }
}
