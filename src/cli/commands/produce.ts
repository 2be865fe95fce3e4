/** `tickflow produce prices|orders`: synthetic prices or orders onto a topic, exactly --count of them. */
import { ensureTopics } from '../../bus/admin.ts'
import { BatchWriter } from '../../bus/batch-writer.ts'
import type { RecordWriter } from '../../bus/chunked-writer.ts'
import { COMPRESSIONS, TopicWriter, type Compression } from '../../bus/producer.ts'
import { ordersTopic, pricesTopic, encodePriceTick } from '../../bus/topics/index.ts'
import { parseTimestamp } from '../../feeds/replay-parse.ts'
import { nextOrderId } from '../../feeds/order-ids.ts'
import { runFeed, type FeedRunResult } from '../../feeds/runner.ts'
import { DEFAULT_SYMBOLS, createPriceGenerator, type PriceModel } from '../../feeds/synthetic-prices.ts'
import {
  DEFAULT_INSTRUMENTS,
  DEFAULT_START_ID,
  DEFAULT_TRADERS,
  createOrderGenerator,
} from '../../feeds/synthetic-orders.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { defineCommand, intOption, type CommandIO } from '../command.ts'
import { CONNECT_OPTIONS, connectFromOptions } from '../connect.ts'
import { formatCount, progress } from '../progress.ts'

const KINDS = ['prices', 'orders'] as const

export default defineCommand({
  name: 'produce',
  summary: 'Publish synthetic prices or BUY/SELL orders (exactly --count, or until interrupted).',
  usage: 'tickflow produce prices|orders [--count N] [options]',
  options: {
    count: { type: 'string', value: 'N', description: 'Messages to send, then exit (default: until Ctrl-C)' },
    rate: { type: 'string', value: 'R|max', default: 'max', description: 'Messages per second' },
    seed: {
      type: 'string',
      value: 'S',
      description: 'Random seed: the same seed gives the same data (default: random)',
    },
    topic: { type: 'string', value: 'T', description: 'Topic (default: prices or orders)' },
    symbols: {
      type: 'string',
      value: 'A,B,...',
      description: `prices: symbols (default: ${DEFAULT_SYMBOLS.join(',')})`,
    },
    model: {
      type: 'string',
      value: 'MODEL',
      default: 'normal',
      description: 'prices: normal (per-symbol mean and deviation) or gbm (geometric Brownian motion)',
    },
    instruments: {
      type: 'string',
      value: 'A,B,...',
      description: `orders: instruments (default: ${DEFAULT_INSTRUMENTS.join(',')})`,
    },
    traders: { type: 'string', value: 'A,B,...', description: 'orders: trader ids (default: T001..T020)' },
    'start-id': {
      type: 'string',
      value: 'ID',
      description: `orders: first order id (default: after the highest id on the topic, or ${DEFAULT_START_ID})`,
    },
    start: {
      type: 'string',
      value: 'TIME',
      description:
        'Simulated clock: timestamps start here and advance 1000/rate ms per message (1 ms at max); default: wall clock',
    },
    partitions: {
      type: 'string',
      value: 'N',
      default: '3',
      description: 'Partitions of the topic when it has to be created',
    },
    compression: {
      type: 'string',
      value: 'CODEC',
      default: 'none',
      description: `Compression: ${COMPRESSIONS.join(', ')}`,
    },
    quiet: { type: 'boolean', short: 'q', description: 'No progress line' },
    ...CONNECT_OPTIONS,
  },
  async run(values, positionals, io) {
    const kind = positionals[0]
    if (!KINDS.includes(kind as (typeof KINDS)[number]) || positionals.length > 1) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'say what to produce: tickflow produce prices|orders')
    }
    const count = intOption('count', values.count, 1)
    const rate = rateOption(values.rate as string)
    const partitions = intOption('partitions', values.partitions, 1)!
    const compression = values.compression as Compression
    if (!COMPRESSIONS.includes(compression)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--compression must be one of ${COMPRESSIONS.join(', ')}`)
    }
    const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : (values.seed as string)
    const clock = clockOption(values.start as string | undefined, rate)
    const topic = (values.topic as string | undefined) ?? kind
    const startIdOption = intOption('start-id', values['start-id'], 0)
    // Every argument is checked before connecting: a bad one exits 2 with one line, touching nothing.
    const model = values.model as PriceModel
    if (model !== 'normal' && model !== 'gbm') {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--model must be normal or gbm, got ${model}`)
    }
    const symbols = listOption(values.symbols, DEFAULT_SYMBOLS)
    const instruments = listOption(values.instruments, DEFAULT_INSTRUMENTS)
    const traders = listOption(values.traders, DEFAULT_TRADERS)

    const connection = await connectFromOptions(values, io, `tickflow-produce-${kind}`)
    const abort = new AbortController()
    void io.stopSignal.then(() => abort.abort())
    const bar = progress(io, values.quiet === true)
    let writer: RecordWriter | undefined
    let result: FeedRunResult
    try {
      await ensureTopics(connection.bus, { [topic]: partitions })
      // Uncompressed (the default): tickflow's own batch encoder; with a codec: the client library's.
      writer =
        compression === 'none'
          ? new BatchWriter(connection.bus, { topic })
          : new TopicWriter(connection.bus, { topic, compression })
      const onProgress = (generated: number, acked: number): void =>
        bar.update(
          () => `${kind}: ${formatCount(acked)} acknowledged${count === undefined ? '' : ` of ${formatCount(count)}`}`,
        )
      if (kind === 'prices') {
        const generator = createPriceGenerator({
          symbols,
          model,
          seed,
          clock,
          tickMs: Number.isFinite(rate) ? (1000 * symbols.length) / rate : undefined,
        })
        result = await runFeed({
          source: generator,
          writer,
          keyOf: pricesTopic.keyOf,
          encode: encodePriceTick,
          count,
          rate,
          signal: abort.signal,
          onProgress,
        })
      } else {
        const startId = startIdOption ?? (await nextOrderId(connection.bus, topic))
        const generator = createOrderGenerator({
          instruments,
          traders,
          seed,
          startId,
          clock,
        })
        result = await runFeed({
          source: generator,
          writer,
          keyOf: ordersTopic.keyOf,
          encode: ordersTopic.encode,
          count,
          rate,
          signal: abort.signal,
          onProgress,
        })
      }
    } finally {
      bar.done()
      await writer?.close().catch(() => {})
      await connection.close()
    }
    report(io, kind, topic, seed, result)
    return result.interrupted && count !== undefined ? 130 : 0
  },
})

function report(io: CommandIO, kind: string, topic: string, seed: number | string, r: FeedRunResult): void {
  const rate = r.seconds > 0 ? Math.round(r.acked / r.seconds) : r.acked
  io.out(
    `${r.interrupted ? 'interrupted: ' : ''}produced ${formatCount(r.acked)} ${kind} to ${topic} in ` +
      `${r.seconds.toFixed(2)} s (${formatCount(rate)} msg/s, seed ${seed})`,
  )
}

function rateOption(text: string): number {
  if (text === 'max') return Infinity
  const n = Number(text)
  if (!(n > 0 && Number.isFinite(n))) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--rate must be a positive number or max, got ${text}`)
  }
  return n
}

function listOption(value: string | boolean | undefined, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback]
  const items = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (items.length === 0) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'an empty list was given')
  return items
}

/** The wall clock, or a simulated one from --start advancing 1000/rate ms per reading. */
function clockOption(start: string | undefined, rate: number): () => number {
  if (start === undefined) return Date.now
  const t0 = parseTimestamp(start)
  if (t0 === undefined) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--start is not a timestamp: ${start}`)
  }
  const step = Number.isFinite(rate) ? 1000 / rate : 1
  let i = 0
  return () => t0 + Math.floor(i++ * step)
}
