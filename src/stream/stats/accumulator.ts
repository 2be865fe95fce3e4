/**
 * Folds `prices` record values into per-symbol statistics for `tickflow stats`. One accumulator
 * per worker: it decodes with the allocation-free fast path ({@link scanPrice}) and falls back to
 * the schema for any other layout, so the numbers are those of JSON.parse either way. It can keep
 * a compact column cache (timestamp, symbol, price) of what it read, so the outlier pass needs no
 * second read of the topic when the cache fits its budget.
 */
import {
  KeyedStats,
  addValue,
  emptyPartial,
  isOutlier,
  type StatsPartial,
  type SummaryStats,
} from '../../analytics/batch-stats.ts'
import { formatPriceTs } from '../../bus/time.ts'
import { pricesTopic, scanPrice, type PriceScan } from '../../bus/topics/index.ts'

/** An invalid record, for the report. */
export interface InvalidRecord {
  partition: number
  offset: string
  reason: string
}

/** One outlier message; `partition`/`offset` order them and are left out of the JSON output. */
export interface Outlier {
  ts: string
  symbol: string
  price: number
  partition: number
  offset: string
}

const CHUNK = 1 << 16
// Invalid records kept as examples per accumulator (all are counted).
const MAX_INVALID_EXAMPLES = 20

export class PriceAccumulator {
  /** Records seen, valid or not. */
  count = 0
  invalid = 0
  readonly invalidExamples: InvalidRecord[] = []
  private readonly symbolNames: string[] = []
  private readonly symbolBytes: Buffer[] = []
  private readonly symbolIds = new Map<string, number>()
  private readonly partials: StatsPartial[] = []
  private readonly scan: PriceScan = { tsMs: 0, symbolStart: 0, symbolEnd: 0, price: 0 }
  private lastSymbol = -1
  // The column cache: chunks of CHUNK rows; dropped entirely once over budget.
  private cacheBudget: number
  private cached = 0
  private tsChunks: Float64Array[] = []
  private priceChunks: Float64Array[] = []
  private symbolChunks: Uint32Array[] = []
  private posChunks: Float64Array[] = []

  /** @param cacheBudget rows the column cache may hold (0 = none: the outlier pass re-reads). */
  constructor(cacheBudget: number) {
    this.cacheBudget = cacheBudget
  }

  /** True while every valid row read so far is in the column cache. */
  get cacheComplete(): boolean {
    return this.cacheBudget > 0
  }

  /** Adds one record value read from `partition` at `offset`. */
  add(value: Buffer | null | undefined, partition: number, offset: number | bigint): void {
    this.count++
    const s = this.scan
    let symbol: number
    let price: number
    let tsMs: number
    if (value != null && scanPrice(value, s)) {
      symbol = this.symbolOfBytes(value, s.symbolStart, s.symbolEnd)
      price = s.price
      tsMs = s.tsMs
    } else {
      const decoded = pricesTopic.decode(value)
      if (!decoded.ok) {
        this.invalid++
        if (this.invalidExamples.length < MAX_INVALID_EXAMPLES) {
          this.invalidExamples.push({ partition, offset: String(offset), reason: decoded.reason })
        }
        return
      }
      symbol = this.symbolOf(decoded.value.symbol)
      price = decoded.value.price
      // A valid ts always parses; formatting it back gives the same text (it is canonical).
      tsMs = Date.parse(decoded.value.ts.replace(' ', 'T') + 'Z')
    }
    addValue(this.partials[symbol], price)
    if (this.cacheBudget > 0) this.cacheRow(tsMs, symbol, price, partition, offset)
  }

  /** Per-symbol partials, mergeable across accumulators. */
  stats(): KeyedStats {
    // No prototype: a symbol named __proto__ is an own key like any other (symbols are user data).
    const json: Record<string, StatsPartial> = Object.create(null)
    this.symbolNames.forEach((name, i) => (json[name] = this.partials[i]))
    return KeyedStats.fromJSON(json)
  }

  /** Outliers from the column cache; only valid when {@link cacheComplete}. */
  cachedOutliers(summaries: Record<string, SummaryStats>, k: number): Outlier[] {
    const out: Outlier[] = []
    const bySymbol = this.symbolNames.map((name) => summaries[name])
    for (let c = 0; c < this.tsChunks.length; c++) {
      const rows = c === this.tsChunks.length - 1 ? this.cached - c * CHUNK : CHUNK
      const ts = this.tsChunks[c]
      const prices = this.priceChunks[c]
      const symbols = this.symbolChunks[c]
      const pos = this.posChunks[c]
      for (let i = 0; i < rows; i++) {
        const summary = bySymbol[symbols[i]]
        if (summary !== undefined && isOutlier(prices[i], summary, k)) {
          out.push({
            ts: formatPriceTs(ts[i]),
            symbol: this.symbolNames[symbols[i]],
            price: prices[i],
            partition: pos[2 * i],
            offset: String(pos[2 * i + 1]),
          })
        }
      }
    }
    return out
  }

  /** The outlier test for a record read again (the pass without a cache). */
  outlierOf(
    value: Buffer | null | undefined,
    summaries: Record<string, SummaryStats>,
    k: number,
    partition: number,
    offset: number | bigint,
  ): Outlier | undefined {
    const s = this.scan
    let tick: { ts: string; symbol: string; price: number }
    if (value != null && scanPrice(value, s)) {
      const symbol = this.symbolNames[this.symbolOfBytes(value, s.symbolStart, s.symbolEnd)]
      const summary = summaries[symbol]
      if (summary === undefined || !isOutlier(s.price, summary, k)) return undefined
      tick = { ts: formatPriceTs(s.tsMs), symbol, price: s.price }
    } else {
      const decoded = pricesTopic.decode(value)
      if (!decoded.ok) return undefined
      const summary = summaries[decoded.value.symbol]
      if (summary === undefined || !isOutlier(decoded.value.price, summary, k)) return undefined
      tick = { ts: decoded.value.ts, symbol: decoded.value.symbol, price: decoded.value.price }
    }
    return { ...tick, partition, offset: String(offset) }
  }

  private cacheRow(tsMs: number, symbol: number, price: number, partition: number, offset: number | bigint): void {
    if (this.cached >= this.cacheBudget) {
      // Over budget: free the cache; the outlier pass will read the topic again.
      this.cacheBudget = 0
      this.tsChunks = []
      this.priceChunks = []
      this.symbolChunks = []
      this.posChunks = []
      return
    }
    const c = this.cached >>> 16
    const i = this.cached & (CHUNK - 1)
    if (i === 0) {
      this.tsChunks.push(new Float64Array(CHUNK))
      this.priceChunks.push(new Float64Array(CHUNK))
      this.symbolChunks.push(new Uint32Array(CHUNK))
      this.posChunks.push(new Float64Array(2 * CHUNK))
    }
    this.tsChunks[c][i] = tsMs
    this.priceChunks[c][i] = price
    this.symbolChunks[c][i] = symbol
    this.posChunks[c][2 * i] = partition
    this.posChunks[c][2 * i + 1] = Number(offset)
    this.cached++
  }

  private symbolOfBytes(buf: Buffer, start: number, end: number): number {
    // Feeds have a handful of symbols: compare bytes with the last one, then the known ones,
    // before making a string.
    const len = end - start
    const last = this.lastSymbol
    if (last >= 0 && this.sameBytes(this.symbolBytes[last], buf, start, len)) return last
    const n = this.symbolBytes.length
    if (n <= 64) {
      for (let id = 0; id < n; id++) {
        if (this.sameBytes(this.symbolBytes[id], buf, start, len)) return (this.lastSymbol = id)
      }
    }
    return (this.lastSymbol = this.symbolOf(buf.toString('latin1', start, end)))
  }

  private sameBytes(known: Buffer, buf: Buffer, start: number, len: number): boolean {
    if (known.length !== len) return false
    for (let i = 0; i < len; i++) if (known[i] !== buf[start + i]) return false
    return true
  }

  private symbolOf(name: string): number {
    let id = this.symbolIds.get(name)
    if (id === undefined) {
      id = this.symbolNames.length
      this.symbolIds.set(name, id)
      this.symbolNames.push(name)
      this.symbolBytes.push(Buffer.from(name, 'utf8'))
      this.partials.push(emptyPartial())
    }
    return id
  }
}
