/** `tickflow tail TOPIC`: live records of a topic, pretty-printed, until Ctrl-C (or --count). */
import type { KafkaRecord } from '@platformatic/kafka'
import { openReaderClient, partitionBounds, readRanges } from '../../bus/reader.ts'
import { ordersTopic, pricesTopic, topicType } from '../../bus/topics/index.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { defineCommand, intOption } from '../command.ts'
import { CONNECT_OPTIONS, connectFromOptions } from '../connect.ts'

export default defineCommand({
  name: 'tail',
  summary: 'Print the records of a topic as they arrive (Ctrl-C to stop).',
  usage: 'tickflow tail TOPIC [--from-beginning] [--count N] [--json]',
  options: {
    'from-beginning': { type: 'boolean', description: 'Start at the oldest record instead of the end' },
    count: { type: 'string', value: 'N', description: 'Exit after N records' },
    partition: { type: 'string', value: 'P', description: 'Only this partition' },
    type: {
      type: 'string',
      value: 'TYPE',
      description: "Print as prices, orders or raw (default: by the topic's name)",
    },
    json: {
      type: 'boolean',
      description: 'One JSON object per record: topic, partition, offset, timestamp, key, value, headers',
    },
    ...CONNECT_OPTIONS,
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'give one TOPIC to tail')
    const topic = positionals[0]
    const count = intOption('count', values.count, 1)
    const only = intOption('partition', values.partition, 0)
    const connection = await connectFromOptions(values, io, 'tickflow-tail')
    const abort = new AbortController()
    void io.stopSignal.then(() => abort.abort())
    const client = openReaderClient(connection.bus)
    const format = values.json === true ? jsonLine : prettyLine((values.type as string | undefined) ?? topic)
    let printed = 0
    try {
      const bounds = await partitionBounds(client, topic)
      const ranges = bounds
        .filter((b) => only === undefined || b.partition === only)
        .map((b) => ({ partition: b.partition, from: values['from-beginning'] === true ? b.start : b.end }))
      if (ranges.length === 0) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `${topic} has no partition ${only}`)
      outer: for await (const chunk of readRanges(client, { topic, ranges, signal: abort.signal })) {
        for (let i = 0; i < chunk.records.length; i++) {
          const record = chunk.records[i]
          const ts = chunk.firstTimestamps[i] + record.timestampDelta
          io.out(format(topic, chunk.partition, chunk.offsets[i], ts, record))
          if (count !== undefined && ++printed >= count) break outer
        }
      }
    } finally {
      await client.close()
      await connection.close()
    }
    return 0
  },
})

type Formatter = (topic: string, partition: number, offset: bigint, ts: bigint, record: KafkaRecord) => string

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'))

function jsonLine(topic: string, partition: number, offset: bigint, ts: bigint, record: KafkaRecord): string {
  const value = text(record.value)
  let parsed: unknown = value
  try {
    if (value !== null) parsed = JSON.parse(value)
  } catch {
    // Not JSON: printed as a string.
  }
  return JSON.stringify({
    topic,
    partition,
    offset: Number(offset),
    timestamp: new Date(Number(ts)).toISOString(),
    key: text(record.key),
    value: parsed,
    headers: Object.fromEntries(record.headers.map(([k, v]) => [text(k) ?? '', text(v)])),
  })
}

/** Typed topics get a column layout; anything else prints key and value text. */
function prettyLine(typeName: string): Formatter {
  const type = topicType(typeName)
  return (_topic, partition, offset, _ts, record) => {
    const where = `${partition}@${offset}`.padEnd(10)
    if (type === pricesTopic) {
      const d = pricesTopic.decode(record.value)
      if (d.ok) return `${where} ${d.value.ts}  ${d.value.symbol.padEnd(8)} ${d.value.price.toFixed(2).padStart(10)}`
    } else if (type === ordersTopic) {
      const d = ordersTopic.decode(record.value)
      if (d.ok) {
        const o = d.value
        const price = o.price === undefined || o.type === 'market' ? 'market' : `@ ${o.price.toFixed(2)}`
        return (
          `${where} ${o.order_timestamp}  #${o.id} ${o.action ?? 'new'} ${o.trxn_type.padEnd(4)} ` +
          `${String(o.quantity).padStart(5)} ${o.instrument.padEnd(10)} ${price}${o.trader ? `  ${o.trader}` : ''}` +
          `${o.tif ? ` ${o.tif}` : ''}`
        )
      }
    }
    const headers = record.headers
      .map(([k, v]) => `${text(k)}=${text(v)}`)
      .filter((h) => h.startsWith('tickflow.dlq.reason') || h.startsWith('tickflow.dlq.source'))
    const key = text(record.key)
    return `${where} ${key === null ? '' : `${key}  `}${text(record.value) ?? '(null)'}${headers.length > 0 ? `  [${headers.join(', ')}]` : ''}`
  }
}
