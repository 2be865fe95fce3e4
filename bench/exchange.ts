/**
 * The matching engine's speed (`npm run bench:exchange`): the scenarios of the exchange design
 * note, each a seeded command stream (bench/exchange-streams.ts) replayed by tickflow's order book
 * and, as the baseline, by the npm package `nodejs-order-book`, in the same run.
 *
 * For each engine and stream: ops/s from a run without per-command timing (best of
 * BENCH_ROUNDS fresh runs), then latency percentiles from a separate run timing every command
 * with `process.hrtime.bigint()` (the timer's own cost, measured and printed, is included).
 * The inserts scenario reports the insert rate per tenth of the stream as the book grows.
 *
 * Environment: BENCH_COMMANDS (exchange-core mix, default 3,000,000), BENCH_INSERTS (default
 * 1,000,000), BENCH_ROUNDS (3), BENCH_BASELINE_SECONDS (the longest a baseline run may take, 60;
 * a stream it would not finish in time is cut to the commands it did in a first timed pass).
 */
import os from 'node:os'
import { PerformanceObserver } from 'node:perf_hooks'
import { OrderBook as BaselineBook } from 'nodejs-order-book'
import { IdIndex } from '../src/exchange/id-index.ts'
import { OrderBook } from '../src/exchange/order-book.ts'
import { BookListener, type NewOrder } from '../src/exchange/types.ts'
import { envCount } from './env.ts'
import { exchangeCoreMix, insertsGrowing, nasdaqLike, type Command, type Stream } from './exchange-streams.ts'

const COMMANDS = envCount('BENCH_COMMANDS', 3_000_000)
const INSERTS = envCount('BENCH_INSERTS', 1_000_000)
const ROUNDS = envCount('BENCH_ROUNDS', 3)
const BASELINE_SECONDS = envCount('BENCH_BASELINE_SECONDS', 60)

/** An engine under test: a fresh set of books, driven one command at a time or over a range. */
interface Engine {
  name: string
  start(books: number): Run
}

interface Run {
  apply(c: Command): void
  /**
   * Applies commands[from..to). Each engine's `start` writes this loop out itself, so that its
   * call into the engine is monomorphic: one loop shared by both engines would reach them through
   * a polymorphic call, which costs the faster engine more.
   */
  replay(commands: Command[], from: number, to: number): void
}

const tickflow: Engine = {
  name: 'tickflow',
  start(books) {
    const listener = new BookListener()
    const all = Array.from({ length: books }, () => new OrderBook(listener, { selfTrade: 'none' }))
    // One reusable command object: the engine copies what it keeps.
    const order: NewOrder = { id: 0, trader: '', side: 'BUY', type: 'limit', tif: 'GTC', price: 0, quantity: 0, ts: 0 }
    const apply = (c: Command): void => {
      const book = all[c.book]
      if (c.kind === 'new') {
        order.id = c.id
        order.side = c.side
        order.type = c.market ? 'market' : 'limit'
        order.tif = c.tif
        order.price = c.price
        order.quantity = c.quantity
        book.add(order)
      } else if (c.kind === 'cancel') book.cancel(c.id, '', 0)
      else book.modify(c.id, '', c.price, c.quantity, 0)
    }
    return {
      apply,
      replay(commands, from, to) {
        for (let i = from; i < to; i++) apply(commands[i])
      },
    }
  },
}

const baseline: Engine = {
  name: 'nodejs-order-book',
  start(books) {
    const all = Array.from({ length: books }, () => new BaselineBook())
    const apply = (c: Command): void => {
      const book = all[c.book]
      if (c.kind === 'new') {
        const side = c.side === 'BUY' ? 'buy' : 'sell'
        if (c.market) book.market({ side: side as never, size: c.quantity })
        else
          book.limit({ id: c.key, side: side as never, size: c.quantity, price: c.price, timeInForce: c.tif as never })
      } else if (c.kind === 'cancel') book.cancel(c.key)
      else book.modify(c.key, { price: c.price })
    }
    return {
      apply,
      replay(commands, from, to) {
        for (let i = from; i < to; i++) apply(commands[i])
      },
    }
  },
}

/** Seconds to apply `commands` to fresh books. */
function throughput(engine: Engine, stream: Stream, commands: Command[]): number {
  const run = engine.start(stream.books)
  const start = performance.now()
  run.replay(commands, 0, commands.length)
  return (performance.now() - start) / 1000
}

/** Nanoseconds per command, each timed alone. */
function latencies(engine: Engine, stream: Stream, commands: Command[]): Float64Array {
  const { apply } = engine.start(stream.books)
  const out = new Float64Array(commands.length)
  for (let i = 0; i < commands.length; i++) {
    const t0 = process.hrtime.bigint()
    apply(commands[i])
    out[i] = Number(process.hrtime.bigint() - t0)
  }
  return out
}

function timerCost(): number {
  const n = 1_000_000
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    out[i] = Number(process.hrtime.bigint() - t0)
  }
  return percentile(out.sort(), 0.5)
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

const us = (ns: number) => (ns / 1000).toFixed(2)
const rate = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US')

interface Result {
  stream: string
  engine: string
  commands: number
  opsPerSecond: number
  p50: number
  p99: number
  p999: number
}
const results: Result[] = []

/** The commands of `stream` the baseline can do within its time budget (all of them, usually). */
function withinBudget(engine: Engine, stream: Stream): Command[] {
  if (engine !== baseline) return stream.commands
  const { apply } = engine.start(stream.books)
  const start = performance.now()
  let i = 0
  for (; i < stream.commands.length; i++) {
    apply(stream.commands[i])
    if ((i & 1023) === 0 && performance.now() - start > BASELINE_SECONDS * 1000) break
  }
  return i === stream.commands.length ? stream.commands : stream.commands.slice(0, i)
}

function bench(stream: Stream): void {
  console.log(
    `\n${stream.name}: ${stream.commands.length.toLocaleString('en-US')} commands, ${stream.books} book(s), ` +
      `${((100 * stream.trades) / stream.commands.length).toFixed(1)}% of commands trade`,
  )
  for (const engine of [tickflow, baseline]) {
    const commands = withinBudget(engine, stream)
    let best = Infinity
    const rounds = engine === baseline ? 1 : ROUNDS
    for (let r = 0; r < rounds; r++) best = Math.min(best, throughput(engine, stream, commands))
    const lat = latencies(engine, stream, commands).sort()
    const r: Result = {
      stream: stream.name,
      engine: engine.name,
      commands: commands.length,
      opsPerSecond: commands.length / best,
      p50: percentile(lat, 0.5),
      p99: percentile(lat, 0.99),
      p999: percentile(lat, 0.999),
    }
    results.push(r)
    const cut =
      commands.length < stream.commands.length ? ` (the first ${commands.length.toLocaleString('en-US')})` : ''
    console.log(
      `  ${engine.name.padEnd(18)} ${rate(commands.length, best).padStart(11)} ops/s   ` +
        `p50 ${us(r.p50)} µs  p99 ${us(r.p99)} µs  p99.9 ${us(r.p999)} µs${cut}`,
    )
  }
  const [ours, theirs] = results.slice(-2)
  console.log(`  tickflow / baseline: ${(ours.opsPerSecond / theirs.opsPerSecond).toFixed(1)}× the ops/s`)
}

/** Insert rate per tenth of the stream, as the book grows. */
async function benchInserts(stream: Stream): Promise<void> {
  console.log(`\n${stream.name}: ${stream.commands.length.toLocaleString('en-US')} inserts, the book growing`)
  const tenth = Math.floor(stream.commands.length / 10)
  for (const engine of [tickflow, baseline]) {
    const rounds = engine === baseline ? 1 : ROUNDS
    const best = new Array<number>(10).fill(Infinity)
    let reached = 10
    let resting = 0
    // Garbage collection inside each tenth of the last round (entries arrive after the loop).
    const windows: [number, number][] = []
    const pauses: { start: number; ms: number }[] = []
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) pauses.push({ start: e.startTime, ms: e.duration })
    })
    gc.observe({ entryTypes: ['gc'] })
    for (let r = 0; r < rounds; r++) {
      const run = engine.start(1)
      const begin = performance.now()
      windows.length = 0
      for (let k = 0; k < 10; k++) {
        const start = performance.now()
        run.replay(stream.commands, k * tenth, (k + 1) * tenth)
        windows.push([start, performance.now()])
        best[k] = Math.min(best[k], (performance.now() - start) / 1000)
        if (engine === baseline && performance.now() - begin > BASELINE_SECONDS * 1000) {
          reached = k + 1
          break
        }
      }
      if (engine === tickflow) {
        // The book's size at the end, for the report (a fresh replay, not timed).
        const book = new OrderBook(new BookListener(), { selfTrade: 'none' })
        for (const c of stream.commands) if (c.kind === 'new') book.add({ ...c, trader: '', type: 'limit', ts: 0 })
        resting = book.size
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
    gc.disconnect()
    const rates = best.slice(0, reached).map((s) => rate(tenth, s))
    console.log(`  ${engine.name.padEnd(18)} inserts/s per tenth: ${rates.join(', ')}`)
    const shares = windows.map(([from, to]) => {
      const ms = pauses.filter((p) => p.start >= from && p.start < to).reduce((n, p) => n + p.ms, 0)
      return `${Math.round((100 * ms) / (to - from))}%`
    })
    console.log(`  ${''.padEnd(18)} time in GC per tenth (last round): ${shares.join(', ')}`)
    if (engine === tickflow)
      console.log(`  ${''.padEnd(18)} resting orders at the end: ${resting.toLocaleString('en-US')}`)
    if (reached < 10) console.log(`  ${''.padEnd(18)} (stopped after ${reached} tenths: over ${BASELINE_SECONDS} s)`)
  }
  // The id index alone, beside a Map taking the same ids: a Map doubles its table at powers of two
  // and rehashes every entry at once.
  for (const [name, make] of [
    ['IdIndex of the ids', () => new IdIndex<object>()],
    ['Map of the ids', () => new Map<number, object>()],
  ] as const) {
    const best = new Array<number>(10).fill(Infinity)
    for (let r = 0; r < ROUNDS; r++) {
      const ids = make()
      const value = {}
      for (let k = 0; k < 10; k++) {
        const start = performance.now()
        for (let i = k * tenth; i < (k + 1) * tenth; i++) ids.set(stream.commands[i].id, value)
        best[k] = Math.min(best[k], (performance.now() - start) / 1000)
      }
    }
    console.log(`  ${name.padEnd(18)} sets/s per tenth: ${best.map((s) => rate(tenth, s)).join(', ')}`)
  }
}

console.log(`tickflow bench:exchange — Node ${process.version}, ${os.cpus().length} CPU, ${os.cpus()[0]?.model ?? ''}`)
console.log(`timer cost (median of hrtime pairs): ${timerCost()} ns, included in the latencies`)
bench(exchangeCoreMix(COMMANDS))
await benchInserts(insertsGrowing(INSERTS))
bench(nasdaqLike(Math.floor(COMMANDS / 3)))
for (const books of [100, 10_000]) bench(exchangeCoreMix(Math.floor(COMMANDS / 3), books, `exchange-core-${books}`))
process.exit(0)
