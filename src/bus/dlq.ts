/**
 * Dead-letter topics: a record that fails its topic's schema, or a replayed row that cannot be
 * read, goes to `dlq.<topic>` with its original bytes as the value and the reason and origin in
 * headers (the convention of Kafka Connect's error headers), so nothing is lost and the record can
 * be repaired and replayed.
 */
import type { MessageToProduce } from '@platformatic/kafka'

/** The dead-letter topic of `topic`. */
export function dlqTopicOf(topic: string): string {
  return `dlq.${topic}`
}

/** Header names of dead-letter records. */
export const DLQ_HEADERS = {
  reason: 'tickflow.dlq.reason',
  topic: 'tickflow.dlq.topic',
  partition: 'tickflow.dlq.partition',
  offset: 'tickflow.dlq.offset',
  /** Where a record that never was on a topic came from, e.g. `history.csv:17`. */
  source: 'tickflow.dlq.source',
  /** ISO 8601 time at which the record was dead-lettered. */
  at: 'tickflow.dlq.at',
} as const

/** Where a dead record came from: a topic position, or a source such as a file line. */
export interface DeadLetter {
  topic: string
  key?: Buffer | string | null
  value: Buffer | string | null
  reason: string
  partition?: number
  offset?: bigint
  source?: string
}

/** The record to produce to `dlq.<topic>` for `dead`. */
export function deadLetterMessage(dead: DeadLetter): MessageToProduce<Buffer, Buffer, string, string> {
  const headers: Record<string, string> = {
    [DLQ_HEADERS.reason]: dead.reason,
    [DLQ_HEADERS.topic]: dead.topic,
    [DLQ_HEADERS.at]: new Date().toISOString(),
  }
  if (dead.partition !== undefined) headers[DLQ_HEADERS.partition] = String(dead.partition)
  if (dead.offset !== undefined) headers[DLQ_HEADERS.offset] = String(dead.offset)
  if (dead.source !== undefined) headers[DLQ_HEADERS.source] = dead.source
  const toBuffer = (v: Buffer | string | null | undefined): Buffer | undefined =>
    v === null || v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v) : v
  return { topic: dlqTopicOf(dead.topic), key: toBuffer(dead.key), value: toBuffer(dead.value), headers }
}
