/**
 * JSON output throughput (`npm run bench:json-writer [values] [rounds]`): numbers/s of
 * writeNumber15 into a Buffer against String(x) and x.toPrecision(15) (strings only, not even
 * encoded) on analytics-like values, and whole `volatility` records/s built with JsonWriter against
 * the template string + Buffer.from(str) the analyze processor uses. Both record forms are checked
 * to read back as the same values (to 15 digits) before anything is timed. Each figure is the best
 * of a few rounds (the machine may be shared).
 */
import { JsonLiteral, JsonWriter, writeNumber15 } from '../src/bus/topics/json-writer.ts'

const count = Number(process.argv[2] ?? 1 << 16)
const rounds = Number(process.argv[3] ?? 7)

/** A seeded uniform [0, 1) source. */
function uniform(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}

const next = uniform(2463534242)
const kinds: Array<[string, () => number]> = [
  ['prices, 2 decimals, 100..500', () => Math.round((100 + next() * 400) * 100) / 100],
  ['EMAs, full precision', () => 100 + next() * 400],
  ['volatilities ~1e-3', () => next() * 2e-3],
  ['z-scores, -3..3', () => (next() - 0.5) * 6],
]
const values = kinds.map(([, gen]) => Float64Array.from({ length: count }, gen))
// All four interleaved, as in a record.
const mixed = new Float64Array(count)
for (let i = 0; i < count; i++) mixed[i] = values[i & 3][i]

const out = Buffer.allocUnsafe(64)

// One function per candidate, so that each call site sees one callee.
function runWrite(xs: Float64Array): number {
  let sink = 0
  for (let i = 0; i < xs.length; i++) sink += writeNumber15(out, 0, xs[i])
  return sink
}
function runString(xs: Float64Array): number {
  let sink = 0
  for (let i = 0; i < xs.length; i++) sink += String(xs[i]).length
  return sink
}
function runPrecision(xs: Float64Array): number {
  let sink = 0
  for (let i = 0; i < xs.length; i++) sink += xs[i].toPrecision(15).length
  return sink
}

/** Items per second of the best round; `run` returns a checksum that is kept observable. */
function best(run: () => number, items: number): number {
  let fastest = Infinity
  let sink = 0
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    sink += run()
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - t0) / 1e9)
  }
  if (Number.isNaN(sink)) throw new Error('unreachable')
  return items / fastest
}

// writeNumber15 is exact by its tests; here only a spot check that the values read back.
for (const xs of values) {
  for (let i = 0; i < 1000; i++) {
    const s = out.toString('latin1', 0, writeNumber15(out, 0, xs[i]))
    if (Number(s) !== Number(xs[i].toPrecision(15))) throw new Error(`${xs[i]} written as ${s}`)
  }
}

// Records: the fields of one `volatility` record per tick, as the processor has them.
interface Tick {
  ts: string
  tsBytes: Buffer
  quotedSymbol: string
  symbol: string
  price: number
  ema: number
  sma: number
  volatility: number
  priceStd: number
  zscore: number
  outlier: boolean
  count: number
}
const symbols = ['AAPL', 'MSFT', 'BTC-USD', 'ETH-USD']
const ticks: Tick[] = Array.from({ length: Math.min(count, 1 << 14) }, (_, i) => {
  const price = values[0][i]
  const ts = `2024-01-02 09:${String((i >> 6) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000`
  return {
    ts,
    tsBytes: Buffer.from(ts),
    symbol: symbols[i & 3],
    quotedSymbol: JSON.stringify(symbols[i & 3]),
    price,
    ema: price + (next() - 0.5),
    sma: price + (next() - 0.5),
    volatility: values[2][i],
    priceStd: next() * 2,
    zscore: values[3][i],
    outlier: next() < 0.01,
    count: i + 1,
  }
})
const window = 100

/** As the processor writes a number today. */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null'
}

function templateRecord(t: Tick): Buffer {
  return Buffer.from(
    `{"ts":"${t.ts}","symbol":${t.quotedSymbol},"price":${t.price},"ema":${num(t.ema)},"sma":${num(t.sma)}` +
      `,"volatility":${num(t.volatility)},"price_std":${num(t.priceStd)},"zscore":${num(t.zscore)}` +
      `,"outlier":${t.outlier},"window":${window},"count":${t.count}}`,
  )
}

const TS = new JsonLiteral('{"ts":"')
const SYMBOL = new JsonLiteral('","symbol":')
const PRICE = new JsonLiteral(',"price":')
const EMA = new JsonLiteral(',"ema":')
const SMA = new JsonLiteral(',"sma":')
const VOLATILITY = new JsonLiteral(',"volatility":')
const PRICE_STD = new JsonLiteral(',"price_std":')
const ZSCORE = new JsonLiteral(',"zscore":')
const OUTLIER = new JsonLiteral(',"outlier":')
const WINDOW = new JsonLiteral(',"window":')
const COUNT = new JsonLiteral(',"count":')
const END = new JsonLiteral('}')
const writer = new JsonWriter(256)

/** The same record with JsonWriter; the view is valid until the next record. */
function writerRecord(t: Tick): Buffer {
  const w = writer
  w.reset()
  w.literal(TS)
  w.bytes(t.tsBytes, 0, t.tsBytes.length)
  w.literal(SYMBOL)
  w.string(t.symbol)
  w.literal(PRICE)
  w.number(t.price)
  w.literal(EMA)
  w.number(t.ema)
  w.literal(SMA)
  w.number(t.sma)
  w.literal(VOLATILITY)
  w.number(t.volatility)
  w.literal(PRICE_STD)
  w.number(t.priceStd)
  w.literal(ZSCORE)
  w.number(t.zscore)
  w.literal(OUTLIER)
  w.bool(t.outlier)
  w.literal(WINDOW)
  w.int(window)
  w.literal(COUNT)
  w.int(t.count)
  w.literal(END)
  return w.view()
}

// Both read back as the same record, the template's numbers rounded to 15 digits.
for (const t of ticks) {
  const a = JSON.parse(writerRecord(t).toString('utf8')) as Record<string, unknown>
  const b = JSON.parse(templateRecord(t).toString('utf8')) as Record<string, unknown>
  for (const key of Object.keys(b)) {
    const want = typeof b[key] === 'number' ? Number((b[key] as number).toPrecision(15)) : b[key]
    if (a[key] !== want) throw new Error(`${key}: ${String(a[key])} vs ${String(b[key])}`)
  }
  if (Object.keys(a).join() !== Object.keys(b).join()) throw new Error('fields differ')
}

function runTemplate(): number {
  let sink = 0
  for (let i = 0; i < ticks.length; i++) sink += templateRecord(ticks[i]).length
  return sink
}
function runWriter(): number {
  let sink = 0
  for (let i = 0; i < ticks.length; i++) sink += writerRecord(ticks[i]).length
  return sink
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')
console.log(`${fmt(count)} values per round, best of ${rounds} rounds, Node ${process.version}`)
console.log('| values | writeNumber15 /s | String(x) /s | toPrecision(15) /s | vs String | vs toPrecision |')
console.log('|---|---|---|---|---|---|')
const sets: Array<[string, Float64Array]> = [...kinds.map(([name], k): [string, Float64Array] => [name, values[k]])]
sets.push(['all four interleaved', mixed])
for (const [name, xs] of sets) {
  // A warm-up round of each first, so that every one is measured optimised.
  runWrite(xs)
  runString(xs)
  runPrecision(xs)
  const w = best(() => runWrite(xs), xs.length)
  const s = best(() => runString(xs), xs.length)
  const p = best(() => runPrecision(xs), xs.length)
  console.log(`| ${name} | ${fmt(w)} | ${fmt(s)} | ${fmt(p)} | ${(w / s).toFixed(1)}x | ${(w / p).toFixed(1)}x |`)
}
console.log()
console.log('| volatility records | records/s | ns/record | vs template |')
console.log('|---|---|---|---|')
runTemplate()
runWriter()
const template = best(runTemplate, ticks.length)
const viaWriter = best(runWriter, ticks.length)
console.log(`| template string + Buffer.from | ${fmt(template)} | ${(1e9 / template).toFixed(0)} | 1.0x |`)
console.log(
  `| JsonWriter | ${fmt(viaWriter)} | ${(1e9 / viaWriter).toFixed(0)} | ${(viaWriter / template).toFixed(1)}x |`,
)
