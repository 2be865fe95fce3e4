/**
 * `tickflow up` (`npm start`): the whole system on one machine — the embedded broker, a continuous
 * price feed, an order feed, the analytics processor and the archiver into the embedded database
 * (served on a local port meanwhile) — with a terminal summary refreshed every second. Later
 * layers (exchange, web server) join here.
 */
import { startBroker, type Broker } from '../../broker/index.ts'
import { ensureTopics } from '../../bus/admin.ts'
import { parseBrokerList, type BusConfig } from '../../bus/client.ts'
import { TopicWriter } from '../../bus/producer.ts'
import { openReaderClient, partitionBounds, readRanges } from '../../bus/reader.ts'
import { encodePriceTick, ordersTopic, pricesTopic, scanPrice, type PriceScan } from '../../bus/topics/index.ts'
import { formatPriceTs } from '../../bus/time.ts'
import { nextOrderId } from '../../feeds/order-ids.ts'
import { runFeed } from '../../feeds/runner.ts'
import { DEFAULT_SYMBOLS, createPriceGenerator, type PriceModel } from '../../feeds/synthetic-prices.ts'
import { DEFAULT_INSTRUMENTS, createOrderGenerator } from '../../feeds/synthetic-orders.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { analyzeProcessor, DEFAULT_ANALYZE_CONFIG } from '../../stream/analyze.ts'
import { exchangeProcessor } from '../../stream/exchange.ts'
import { exchangeConfigFromOptions } from './exchange.ts'
import { runProcessor, type RuntimeStats } from '../../stream/runtime.ts'
import { KafkaCluster } from '../../bus/cluster.ts'
import { runArchiver, type ArchiverStats } from '../../store/archiver.ts'
import { DEFAULT_ROUTES } from '../../store/tables.ts'
import { CONFIG_OPTION, loadConfig } from '../config-file.ts'
import { DATABASE_OPTIONS, openStoreFromOptions, type Store } from '../database.ts'
import { Board } from '../board.ts'
import { formatCount } from '../progress.ts'
import { defineCommand, hostPortOption, intOption } from '../command.ts'

export default defineCommand({
  name: 'up',
  summary: 'Run everything: the embedded broker, price and order feeds and the analytics, with a live summary.',
  usage: 'tickflow up [options]',
  options: {
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:9092',
      description: 'Where the embedded broker listens (other commands and Kafka tools connect here)',
    },
    'data-dir': { type: 'string', value: 'DIR', default: './data', description: 'Data dir of the embedded broker' },
    brokers: {
      type: 'string',
      value: 'HOST:PORT,...',
      description: 'Use these Kafka brokers instead of starting the embedded one',
    },
    'price-rate': { type: 'string', value: 'R', default: '50', description: 'Price messages per second' },
    'order-rate': { type: 'string', value: 'R', default: '10', description: 'Orders per second (0: no order feed)' },
    symbols: { type: 'string', value: 'A,B,...', description: `Symbols (default: ${DEFAULT_SYMBOLS.join(',')})` },
    model: { type: 'string', value: 'MODEL', default: 'gbm', description: 'Price model: gbm or normal' },
    seed: { type: 'string', value: 'S', description: 'Random seed of the feeds (default: random)' },
    partitions: { type: 'string', value: 'N', default: '3', description: 'Partitions of the topics it creates' },
    'no-analyze': { type: 'boolean', description: 'Do not run the analytics processor (tickflow analyze)' },
    'no-exchange': { type: 'boolean', description: 'Do not run the matching engine (tickflow exchange)' },
    'no-archive': { type: 'boolean', description: 'Do not archive the topics into the database (tickflow archive)' },
    ...DATABASE_OPTIONS,
    ...CONFIG_OPTION,
    quiet: { type: 'boolean', short: 'q', description: 'No summary' },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0)
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `unexpected argument ${positionals[0]}`)
    const priceRate = rate('price-rate', values['price-rate'] as string, 1)
    const orderRate = rate('order-rate', values['order-rate'] as string, 0)
    const model = values.model as PriceModel
    if (model !== 'normal' && model !== 'gbm') {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--model must be normal or gbm, got ${model}`)
    }
    const symbols =
      values.symbols === undefined ? [...DEFAULT_SYMBOLS] : String(values.symbols).split(',').filter(Boolean)
    const partitions = intOption('partitions', values.partitions, 1)!
    const seed = (values.seed as string | undefined) ?? Math.floor(Math.random() * 2 ** 32)
    const external = (values.brokers as string | undefined) ?? (process.env.TICKFLOW_BROKERS || undefined)
    const archive = values['no-archive'] !== true
    const config = archive ? loadConfig(values.config as string | undefined) : undefined

    let broker: Broker | undefined
    let bus: BusConfig
    if (external !== undefined) {
      bus = { bootstrapBrokers: parseBrokerList(external), clientId: 'tickflow-up' }
    } else {
      const listen = hostPortOption('listen', values.listen as string)
      broker = await startBroker({
        host: listen.host ?? '127.0.0.1',
        port: listen.port,
        dataDir: values['data-dir'] as string,
        defaultPartitions: partitions,
      })
      bus = { bootstrapBrokers: [broker.address], clientId: 'tickflow-up' }
    }
    const where =
      broker === undefined
        ? `Kafka brokers ${bus.bootstrapBrokers.join(',')}`
        : `embedded broker on ${broker.address} (data dir ${broker.dataDir})`
    io.err(`tickflow up: ${where}; prices ${priceRate}/s, orders ${orderRate}/s, seed ${seed}. Ctrl-C to stop.`)

    let store: Store | undefined
    if (archive) {
      try {
        store = await openStoreFromOptions(values, (line) => io.err(line.replace(/^tickflow:/, 'tickflow up:')), true)
      } catch (err) {
        await broker?.close()
        throw err
      }
    }
    const abort = new AbortController()
    const board = new Board()
    const tasks: Promise<unknown>[] = []
    const writers: TopicWriter[] = []
    let refresh: NodeJS.Timeout | undefined
    let failure: unknown
    const fail = (err: unknown): void => {
      failure ??= err
      abort.abort()
    }
    void io.stopSignal.then(() => abort.abort())
    try {
      await ensureTopics(bus, { [pricesTopic.name]: partitions, [ordersTopic.name]: partitions })
      // Follow both topics from their current end, for the summary.
      tasks.push(follow(bus, pricesTopic.name, abort.signal, (value) => countPrice(board, value)).catch(fail))
      tasks.push(follow(bus, ordersTopic.name, abort.signal, (value) => countOrder(board, value)).catch(fail))
      const prices = new TopicWriter(bus, { topic: pricesTopic.name, chunkSize: 1000 })
      writers.push(prices)
      tasks.push(
        runFeed({
          source: createPriceGenerator({
            symbols,
            model,
            seed,
            clock: Date.now,
            tickMs: (1000 * symbols.length) / priceRate,
          }),
          writer: prices,
          keyOf: pricesTopic.keyOf,
          encode: encodePriceTick,
          rate: priceRate,
          signal: abort.signal,
        }).catch(fail),
      )
      if (orderRate > 0) {
        const orders = new TopicWriter(bus, { topic: ordersTopic.name, chunkSize: 1000 })
        writers.push(orders)
        tasks.push(
          runFeed({
            source: createOrderGenerator({
              instruments: [...DEFAULT_INSTRUMENTS],
              seed,
              clock: Date.now,
              startId: await nextOrderId(bus, ordersTopic.name),
            }),
            writer: orders,
            keyOf: ordersTopic.keyOf,
            encode: ordersTopic.encode,
            rate: orderRate,
            signal: abort.signal,
          }).catch(fail),
        )
      }
      const analyzed: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
      if (values['no-analyze'] !== true) {
        tasks.push(
          runProcessor(
            analyzeProcessor(DEFAULT_ANALYZE_CONFIG),
            { bus, signal: abort.signal, log: (line) => io.err(`analyze: ${line}`) },
            analyzed,
          ).catch(fail),
        )
        board.analyze = () =>
          `analyze: ${formatCount(analyzed.processed)} ticks → volatility, bars.1m, signals` +
          ` (partitions [${analyzed.assigned.join(',')}])`
      }
      const matched: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
      if (values['no-exchange'] !== true && orderRate > 0) {
        tasks.push(
          runProcessor(
            exchangeProcessor(exchangeConfigFromOptions({}, config)),
            { bus, signal: abort.signal, log: (line) => io.err(`exchange: ${line}`) },
            matched,
          ).catch(fail),
        )
        board.exchange = () =>
          `exchange: ${formatCount(matched.processed)} orders → trades, order-events, book, pnl, trade-stats` +
          ` (partitions [${matched.assigned.join(',')}])`
      }
      let cluster: KafkaCluster | undefined
      if (store !== undefined) {
        let archived: ArchiverStats = { records: 0, rows: {}, rejected: 0, batches: 0, retries: 0, partitions: 0 }
        cluster = await KafkaCluster.connect(bus)
        const c = cluster
        tasks.push(
          runArchiver({
            cluster: c,
            bus,
            db: store.db,
            topics: 'all',
            routes: config?.archive.routes ?? [...DEFAULT_ROUTES],
            signal: abort.signal,
            log: (line) => io.err(`archive: ${line}`),
            onCommit: (x) => (archived = x),
          })
            .catch(fail)
            .finally(() => c.close()),
        )
        const target = store.description.replace(/^using /, '')
        board.archive = () =>
          `archive: ${formatCount(archived.records)} records from ${archived.partitions} partitions → ${target}` +
          (archived.rejected > 0 ? `, ${formatCount(archived.rejected)} dead-lettered` : '')
      }
      const tty = process.stdout.isTTY === true
      let seconds = 0
      const title = `tickflow up — ${where}`
      refresh = setInterval(() => {
        board.tick(Date.now())
        seconds++
        if (values.quiet === true) return
        if (tty) process.stdout.write('\x1b[H\x1b[2J' + board.render(title).join('\n') + '\n')
        else if (seconds % 10 === 0)
          io.out(
            board
              .render(title)
              .slice(2)
              .filter((l) => l !== '')
              .join(' | ')
              .replace(/\s+/g, ' '),
          )
      }, 1000)
      await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }))
    } finally {
      abort.abort()
      clearInterval(refresh)
      await Promise.allSettled(tasks)
      await Promise.allSettled(writers.map((w) => w.close()))
      await store?.close()
      await broker?.close()
    }
    if (failure !== undefined) throw failure
    io.err('tickflow up: stopped')
    return 0
  },
})

function rate(name: string, text: string, min: number): number {
  const n = Number(text)
  if (!(n >= min && Number.isFinite(n))) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--${name} must be a number >= ${min}, got ${text}`)
  }
  return n
}

const scan: PriceScan = { tsMs: 0, symbolStart: 0, symbolEnd: 0, price: 0 }

function countPrice(board: Board, value: Buffer | null): void {
  if (value !== null && scanPrice(value, scan)) {
    board.price(value.toString('latin1', scan.symbolStart, scan.symbolEnd), scan.price, formatPriceTs(scan.tsMs))
    return
  }
  const d = pricesTopic.decode(value)
  if (d.ok) board.price(d.value.symbol, d.value.price, d.value.ts)
  else board.invalid++
}

function countOrder(board: Board, value: Buffer | null): void {
  if (ordersTopic.decode(value).ok) board.orders++
  else board.ordersInvalid++
}

/** Reads `topic` from its end until the signal aborts. */
async function follow(
  bus: BusConfig,
  topic: string,
  signal: AbortSignal,
  onValue: (value: Buffer | null) => void,
): Promise<void> {
  const client = openReaderClient(bus)
  try {
    const bounds = await partitionBounds(client, topic)
    const ranges = bounds.map((b) => ({ partition: b.partition, from: b.end }))
    for await (const chunk of readRanges(client, { topic, ranges, signal })) {
      for (const record of chunk.records) onValue(record.value)
    }
  } finally {
    await client.close()
  }
}
