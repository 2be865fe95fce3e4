import assert from 'node:assert/strict'
import { test } from 'node:test'
import kafkajs from 'kafkajs'
import { DLQ_HEADERS, deadLetterMessage, dlqTopicOf } from '../../src/bus/dlq.ts'
import { TopicWriter } from '../../src/bus/producer.ts'
import { pricesTopic } from '../../src/bus/topics/index.ts'
import { createTopic } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'

const { Kafka, logLevel } = kafkajs

test('dlqTopicOf prefixes the topic', () => {
  assert.equal(dlqTopicOf('prices'), 'dlq.prices')
  assert.equal(dlqTopicOf('bars.1m'), 'dlq.bars.1m')
})

test('deadLetterMessage keeps the original bytes and puts reason and origin in headers', () => {
  const before = Date.now()
  const value = Buffer.from([0x7b, 0xff, 0x00, 0xfe, 0x7d])
  const m = deadLetterMessage({
    topic: 'prices',
    key: 'AAPL',
    value,
    reason: 'price: expected number',
    partition: 2,
    offset: 12345678901234n,
  })
  assert.equal(m.topic, 'dlq.prices')
  assert.deepEqual(m.key, Buffer.from('AAPL'))
  assert.equal(m.value, value, 'the original buffer, not a copy')
  const headers = m.headers as Record<string, string>
  assert.deepEqual(Object.keys(headers).sort(), [
    DLQ_HEADERS.at,
    DLQ_HEADERS.offset,
    DLQ_HEADERS.partition,
    DLQ_HEADERS.reason,
    DLQ_HEADERS.topic,
  ])
  assert.equal(headers[DLQ_HEADERS.reason], 'price: expected number')
  assert.equal(headers[DLQ_HEADERS.topic], 'prices')
  assert.equal(headers[DLQ_HEADERS.partition], '2')
  assert.equal(headers[DLQ_HEADERS.offset], '12345678901234')
  const at = Date.parse(headers[DLQ_HEADERS.at])
  assert.equal(new Date(at).toISOString(), headers[DLQ_HEADERS.at], 'ISO 8601')
  assert.ok(at >= before - 1 && at <= Date.now() + 1)

  // A record that never was on a topic: a source instead of a position; string values become bytes.
  const row = deadLetterMessage({ topic: 'orders', value: 'a,b,c', reason: 'bad row', source: 'history.csv:17' })
  assert.equal(row.topic, 'dlq.orders')
  assert.equal(row.key, undefined)
  assert.deepEqual(row.value, Buffer.from('a,b,c'))
  const rowHeaders = row.headers as Record<string, string>
  assert.equal(rowHeaders[DLQ_HEADERS.source], 'history.csv:17')
  assert.equal(rowHeaders[DLQ_HEADERS.partition], undefined)
  assert.equal(rowHeaders[DLQ_HEADERS.offset], undefined)

  // No value and no key stay absent; offset 0 and partition 0 are kept.
  const empty = deadLetterMessage({
    topic: 't',
    key: null,
    value: null,
    reason: 'the record has no value',
    partition: 0,
    offset: 0n,
  })
  assert.equal(empty.key, undefined)
  assert.equal(empty.value, undefined)
  assert.equal((empty.headers as Record<string, string>)[DLQ_HEADERS.partition], '0')
  assert.equal((empty.headers as Record<string, string>)[DLQ_HEADERS.offset], '0')
})

interface ReadBack {
  key: Buffer | null
  value: Buffer | null
  headers: Record<string, string>
}

/** Every record of a one-partition topic, with KafkaJS, through a throwaway group. */
async function readWithKafkajs(address: string, topic: string, count: number): Promise<ReadBack[]> {
  const kafka = new Kafka({ brokers: [address], clientId: 'dlq-test-reader', logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `dlq-test-${process.pid}-${topic}`, maxWaitTimeInMs: 100 })
  const got: ReadBack[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            const headers: Record<string, string> = {}
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v)
            got.push({ key: message.key, value: message.value, headers })
            if (got.length >= count) resolve()
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return got
}

test('a dead letter produced with TopicWriter reads back with KafkaJS: headers and original bytes', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'prices', 1)
  await createTopic(broker, 'dlq.prices', 1)
  const original = Buffer.concat([
    Buffer.from('{"ts":"2021-03-10 16:21:32.000","symbol":"X","price":'),
    Buffer.from([0xc3, 0x28, 0xff]),
    Buffer.from('}'),
  ])
  const decoded = pricesTopic.decode(original)
  assert.equal(decoded.ok, false)
  const reason = (decoded as { reason: string }).reason
  const writer = new TopicWriter({ bootstrapBrokers: [broker.address], clientId: 'dlq-test' }, { topic: 'prices' })
  writer.write('X', '{"ts":"2021-03-10 16:21:32.000","symbol":"X","price":1}')
  writer.writeMessage(
    deadLetterMessage({ topic: 'prices', key: 'X', value: original, reason, partition: 0, offset: 41n }),
  )
  writer.writeMessage(
    deadLetterMessage({ topic: 'prices', value: null, reason: 'the record has no value', source: 'in.csv:3' }),
  )
  await writer.close()
  assert.equal(writer.acked, 3)

  const [dead, empty] = await readWithKafkajs(broker.address, 'dlq.prices', 2)
  assert.deepEqual(dead.key, Buffer.from('X'))
  assert.deepEqual(dead.value, original, 'the original bytes, invalid UTF-8 included')
  assert.equal(dead.headers[DLQ_HEADERS.reason], reason)
  assert.equal(dead.headers[DLQ_HEADERS.topic], 'prices')
  assert.equal(dead.headers[DLQ_HEADERS.partition], '0')
  assert.equal(dead.headers[DLQ_HEADERS.offset], '41')
  assert.equal(dead.headers[DLQ_HEADERS.source], undefined)
  assert.ok(!Number.isNaN(Date.parse(dead.headers[DLQ_HEADERS.at])))
  assert.equal(empty.key, null)
  assert.equal(empty.value, null)
  assert.equal(empty.headers[DLQ_HEADERS.source], 'in.csv:3')
  assert.equal(empty.headers[DLQ_HEADERS.reason], 'the record has no value')
  // The valid record went to its own topic, not to the dead letters.
  const [valid] = await readWithKafkajs(broker.address, 'prices', 1)
  assert.equal(valid.value?.toString(), '{"ts":"2021-03-10 16:21:32.000","symbol":"X","price":1}')
})
