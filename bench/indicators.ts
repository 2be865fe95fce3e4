/**
 * Per-tick indicator throughput (`node bench/indicators.ts [symbols] [ticksPerSymbol] [window]`):
 * one SymbolIndicators update = every indicator for one tick (EMA, SMA, price std, log-return
 * volatility, z-score, outlier flag, min/max), over many symbols with ticks interleaved as the
 * `analyze` processor sees them; both output forms (update: nullable fields; updateNumbers: NaN,
 * unboxed), beside a naive operator in this file that recomputes every indicator over the window
 * from scratch on each tick. Prints updates/s and the ratio, after checking that both operators
 * compute the same values. Each form is timed in a worker thread of its own, so that V8's type
 * feedback of one does not slow the others (the processor only ever calls updateNumbers). Each
 * figure is the best of a few rounds, with the slowest beside it (the machine may be shared).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import {
  SymbolIndicators,
  indicatorConfig,
  newIndicatorNumbers,
  newIndicatorValues,
  type IndicatorConfig,
  type IndicatorValues,
} from '../src/analytics/indicators.ts'

const args: string[] = isMainThread ? process.argv.slice(2) : (workerData as { args: string[] }).args
const symbols = Number(args[0] ?? 1000)
const ticksPerSymbol = Number(args[1] ?? 20_000)
const window = Number(args[2] ?? 100)
const config = indicatorConfig({ window })

/** The straightforward O(window) version: arrays of the last prices and log returns, rescanned per tick. */
class NaiveIndicators {
  private readonly n: number
  private readonly alpha: number
  private readonly prices: number[] = []
  private readonly returns: number[] = []
  private count = 0
  private ema = 0
  private readonly config: IndicatorConfig

  constructor(config: IndicatorConfig) {
    this.config = config
    this.n = config.window
    this.alpha = 2 / (config.emaSpan + 1)
  }

  update(price: number, out: IndicatorValues): void {
    const n = this.n
    const prev = this.prices
    // z-score against the previous prices: two passes
    let zscore: number | null = null
    if (prev.length >= 2) {
      const { mean, std } = meanStd(prev)
      if (std > 0) zscore = (price - mean) / std
    }
    if (this.count > 0) {
      this.returns.push(Math.log(price) - Math.log(prev[prev.length - 1]))
      if (this.returns.length > n) this.returns.shift()
    }
    prev.push(price)
    if (prev.length > n) prev.shift()
    this.count++
    this.ema = this.count === 1 ? price : (1 - this.alpha) * this.ema + this.alpha * price
    out.count = this.count
    out.ema = this.ema
    if (prev.length === n) {
      const { mean, std } = meanStd(prev)
      out.sma = mean
      out.priceStd = std
    } else {
      out.sma = null
      out.priceStd = null
    }
    out.volatility = this.returns.length === n ? meanStd(this.returns).std : null
    out.zscore = zscore
    out.outlier =
      zscore !== null && this.count - 1 >= this.config.minPoints && Math.abs(zscore) > this.config.zThreshold
    let min = Infinity
    let max = -Infinity
    for (const p of prev) {
      if (p < min) min = p
      if (p > max) max = p
    }
    out.min = min
    out.max = max
  }
}

function meanStd(xs: readonly number[]): { mean: number; std: number } {
  let s = 0
  for (const x of xs) s += x
  const mean = s / xs.length
  let ss = 0
  for (const x of xs) ss += (x - mean) * (x - mean)
  return { mean, std: Math.sqrt(ss / (xs.length - 1)) }
}

/** One random-walk price path per symbol (two decimals, 100..500), `length` ticks each, interleaved. */
function pricePaths(length: number): Float64Array {
  let x = 2463534242
  const next = (): number => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
  const out = new Float64Array(length * symbols)
  for (let s = 0; s < symbols; s++) {
    let cents = 10000 + Math.floor(next() * 40000)
    for (let t = 0; t < length; t++) {
      cents += Math.floor(next() * 21) - 10
      if (next() < 0.0005) cents += Math.round(cents * (next() - 0.5) * 0.2) // occasional jump
      if (cents < 10000) cents = 20000 - cents
      if (cents > 50000) cents = 100000 - cents
      out[t * symbols + s] = cents / 100
    }
  }
  return out
}

/**
 * Feeds `ticks` rounds of one tick per symbol to fresh operators; returns updates per second. One
 * function per form, so each call site sees one operator class and one record shape, as in the
 * processor.
 */
function runUpdate(ticks: number): number {
  const ops = Array.from({ length: symbols }, () => new SymbolIndicators(config))
  const out = newIndicatorValues()
  fill((s, price) => ops[s].update(price, out))
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let t = window + 1; t < window + 1 + ticks; t++) {
    const base = (t % pathLength) * symbols
    for (let s = 0; s < symbols; s++) {
      ops[s].update(paths[base + s], out)
      sink += out.max // keep the work observable
    }
  }
  return rate(t0, ticks, sink)
}

function runNumbers(ticks: number): number {
  const ops = Array.from({ length: symbols }, () => new SymbolIndicators(config))
  const out = newIndicatorNumbers()
  fill((s, price) => ops[s].updateNumbers(price, out))
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let t = window + 1; t < window + 1 + ticks; t++) {
    const base = (t % pathLength) * symbols
    for (let s = 0; s < symbols; s++) {
      ops[s].updateNumbers(paths[base + s], out)
      sink += out.max
    }
  }
  return rate(t0, ticks, sink)
}

function runNaive(ticks: number): number {
  const ops = Array.from({ length: symbols }, () => new NaiveIndicators(config))
  const out = newIndicatorValues()
  fill((s, price) => ops[s].update(price, out))
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let t = window + 1; t < window + 1 + ticks; t++) {
    const base = (t % pathLength) * symbols
    for (let s = 0; s < symbols; s++) {
      ops[s].update(paths[base + s], out)
      sink += out.max
    }
  }
  return rate(t0, ticks, sink)
}

/** The first window+1 ticks, untimed, so that every operator is timed in its steady state. */
function fill(feed: (symbol: number, price: number) => void): void {
  for (let t = 0; t <= window; t++) {
    const base = (t % pathLength) * symbols
    for (let s = 0; s < symbols; s++) feed(s, paths[base + s])
  }
}

function rate(t0: bigint, ticks: number, sink: number): number {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (Number.isNaN(sink)) throw new Error('unreachable')
  return (ticks * symbols) / seconds
}

/** Best and worst rate of `rounds` rounds. */
function rounds(run: (ticks: number) => number, ticks: number, n: number): { best: number; worst: number } {
  let best = 0
  let worst = Infinity
  for (let i = 0; i < n; i++) {
    const r = run(ticks)
    best = Math.max(best, r)
    worst = Math.min(worst, r)
  }
  return { best, worst }
}

// Paths of 1,000 ticks per symbol (8 MB for 1,000 symbols), replayed: a wrap is one more jump.
const pathLength = Math.min(ticksPerSymbol, 1000)
const paths = pricePaths(pathLength)
// Both operators agree (to rounding) before anything is timed: checked in the main thread, as
// running the operators here first would change what V8 learns in the workers that time them.
if (isMainThread) {
  const fast = new SymbolIndicators(config)
  const naive = new NaiveIndicators(config)
  const a = newIndicatorValues()
  const b = newIndicatorValues()
  for (let t = 0; t < Math.min(pathLength, 3 * window); t++) {
    fast.update(paths[t * symbols], a)
    naive.update(paths[t * symbols], b)
    for (const key of ['sma', 'priceStd', 'volatility', 'zscore', 'ema', 'min', 'max'] as const) {
      const x = a[key]
      const y = b[key]
      if ((x === null) !== (y === null) || (x !== null && y !== null && Math.abs(x - y) > 1e-9 * Math.abs(y) + 1e-9)) {
        throw new Error(`tick ${t}: ${key} ${x} vs naive ${y}`)
      }
    }
  }
}

// The naive operator is O(window): fewer ticks keep its rounds short.
const naiveTicks = Math.max(1, Math.min(ticksPerSymbol, Math.round(2_000_000 / symbols / Math.max(1, window / 20))))
type Form = 'update' | 'numbers' | 'naive'
const forms: Record<Form, { run: (ticks: number) => number; ticks: number }> = {
  update: { run: runUpdate, ticks: ticksPerSymbol },
  numbers: { run: runNumbers, ticks: ticksPerSymbol },
  naive: { run: runNaive, ticks: naiveTicks },
}

if (!isMainThread) {
  // One form: a warm-up round (JIT), then 5 timed rounds.
  const form = forms[(workerData as { form: Form }).form]
  form.run(Math.max(1, form.ticks >> 3))
  parentPort!.postMessage(rounds(form.run, form.ticks, 5))
} else {
  const measure = (form: Form): Promise<{ best: number; worst: number }> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { form, args } })
      worker.once('message', resolve)
      worker.once('error', reject)
    })
  const update = await measure('update')
  const numbers = await measure('numbers')
  const naive = await measure('naive')
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')
  console.log(`symbols ${symbols}, window ${window}, Node ${process.version}`)
  console.log('| operator | updates per round | updates/s (best of 5) | slowest round | ns/update | vs naive |')
  console.log('|---|---|---|---|---|---|')
  const row = (name: string, updates: number, r: { best: number; worst: number }): void =>
    console.log(
      `| ${name} | ${fmt(updates)} | ${fmt(r.best)} | ${fmt(r.worst)} | ${(1e9 / r.best).toFixed(0)} | ${(r.best / naive.best).toFixed(1)}x |`,
    )
  row('SymbolIndicators.update (nullable fields)', symbols * ticksPerSymbol, update)
  row('SymbolIndicators.updateNumbers (NaN, unboxed)', symbols * ticksPerSymbol, numbers)
  row('naive rescan of the window per tick', symbols * naiveTicks, naive)
}
