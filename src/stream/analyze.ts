/**
 * The `analyze` processor: `prices` → `volatility` (one record per tick: EMA, SMA, price_std,
 * log-return volatility, z-score and outlier flag), `bars.<interval>` (OHLCV + VWAP per symbol per
 * event-time window) and `signals` (EMA crossovers, outliers, volatility breakouts).
 *
 * Per input partition: one indicator set and one signal state per symbol, one bar aggregator per
 * interval, one watermark. A record that is not a valid price goes to `dlq.prices` (invalid); a
 * record whose bar window is already final goes there too (late) and feeds nothing, so every
 * output agrees on the same set of ticks.
 */
import { BarAggregator, windowStart, type Bar } from '../analytics/bars.ts'
import {
  indicatorConfig,
  newIndicatorNumbers,
  SymbolIndicators,
  type IndicatorConfig,
  type IndicatorNumbers,
} from '../analytics/indicators.ts'
import type { BarInterval } from '../analytics/intervals.ts'
import { SignalBits, signalConfig, SymbolSignals, type SignalConfig } from '../analytics/signals.ts'
import { jsonString } from '../bus/topics/json.ts'
import { pricesTopic, scanPrice, type PriceScan } from '../bus/topics/prices.ts'
import { formatPriceTs, parsePriceTs } from '../bus/time.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { Emitter, InputRecord, PartitionProcessor, ProcessorDefinition } from './processor.ts'
import { PartitionWatermark, type WatermarkConfig } from './watermark.ts'

export interface AnalyzeConfig {
  input: string
  volatilityTopic: string
  signalsTopic: string
  indicators: IndicatorConfig
  signals: SignalConfig
  bars: BarInterval[]
  /** A window is final once the watermark passes its end + grace. */
  graceMs: number
  watermark: WatermarkConfig
}

export const DEFAULT_ANALYZE_CONFIG: AnalyzeConfig = {
  input: 'prices',
  volatilityTopic: 'volatility',
  signalsTopic: 'signals',
  indicators: indicatorConfig(),
  signals: signalConfig(),
  bars: [{ label: '1m', ms: 60_000 }],
  graceMs: 0,
  watermark: { allowedLatenessMs: 1000, idleTimeoutMs: 5000 },
}

/** The topic of bars of an interval. */
export function barsTopicOf(interval: BarInterval): string {
  return `bars.${interval.label}`
}

/** The processor definition of `analyze` with `config`. */
export function analyzeProcessor(config: AnalyzeConfig = DEFAULT_ANALYZE_CONFIG): ProcessorDefinition {
  return {
    name: 'analyze',
    input: config.input,
    outputs: [config.volatilityTopic, config.signalsTopic, ...config.bars.map(barsTopicOf)],
    create: (_partition, snapshot) => AnalyzePartition.create(config, snapshot),
  }
}

interface SymbolState {
  /** The symbol as a JSON string literal, quoted once. */
  quoted: string
  indicators: SymbolIndicators
  signals: SymbolSignals
}

const SNAPSHOT_VERSION = 1

export class AnalyzePartition implements PartitionProcessor {
  private readonly config: AnalyzeConfig
  private readonly symbols = new Map<string, SymbolState>()
  private readonly aggregators: BarAggregator[]
  private readonly barTopics: string[]
  private watermark: PartitionWatermark
  private readonly values: IndicatorNumbers = newIndicatorNumbers()
  private readonly scan: PriceScan = { tsMs: 0, symbolStart: 0, symbolEnd: 0, price: 0 }
  /** The largest event time processed (the watermark tracks it); undefined before any record. */
  get maxEventTime(): number | undefined {
    const max = this.watermark.maxEventTime
    return max === -Infinity ? undefined : max
  }

  private constructor(config: AnalyzeConfig) {
    this.config = config
    this.aggregators = config.bars.map((b) => new BarAggregator(b, config.graceMs))
    this.barTopics = config.bars.map(barsTopicOf)
    this.watermark = new PartitionWatermark(config.watermark)
  }

  /** A fresh partition state, or one restored from a snapshot. */
  static create(config: AnalyzeConfig, snapshot: Buffer | undefined): AnalyzePartition {
    const p = new AnalyzePartition(config)
    if (snapshot !== undefined) p.restore(snapshot)
    return p
  }

  process(record: InputRecord, out: Emitter): void {
    const value = record.value
    let tsMs: number
    let ts: string
    let symbol: string
    let price: number
    let quantity = 1
    if (value !== null && scanPrice(value, this.scan)) {
      tsMs = this.scan.tsMs
      ts = value.toString('latin1', 7, 30)
      symbol = value.toString('utf8', this.scan.symbolStart, this.scan.symbolEnd)
      price = this.scan.price
    } else {
      const decoded = pricesTopic.decode(value)
      if (!decoded.ok) {
        out.deadLetter(decoded.reason, 'invalid')
        return
      }
      const v = decoded.value as unknown as Record<string, unknown>
      tsMs = parsePriceTs(decoded.value.ts)!
      ts = formatPriceTs(tsMs)
      symbol = decoded.value.symbol
      price = decoded.value.price
      const q = typeof v.volume === 'number' ? v.volume : typeof v.quantity === 'number' ? v.quantity : 1
      if (!(q > 0) || !Number.isFinite(q)) {
        out.deadLetter(`volume must be a positive number (got ${String(q)})`, 'invalid')
        return
      }
      quantity = q
    }
    // Late: the record's window of some interval is already final. It then feeds nothing — not the
    // indicators, not the intervals where it would still fit — so every output agrees on one set of
    // ticks.
    const w = this.watermark.current
    for (const a of this.aggregators) {
      if (a.isLate(tsMs, w)) {
        const end = windowStart(tsMs, a.interval.ms) + a.interval.ms
        out.deadLetter(
          `late: event time ${formatPriceTs(tsMs)} is in the ${a.interval.label} window ending ${formatPriceTs(end)}, already closed (watermark ${formatPriceTs(w)})`,
          'late',
        )
        return
      }
    }
    this.watermark.observe(tsMs, Date.now())
    for (const a of this.aggregators) a.add(symbol, tsMs, price, quantity, w)
    let state = this.symbols.get(symbol)
    if (state === undefined) {
      state = {
        quoted: jsonString(symbol),
        indicators: new SymbolIndicators(this.config.indicators),
        signals: new SymbolSignals(this.config.signals),
      }
      this.symbols.set(symbol, state)
    }
    const v = this.values
    // NaN marks "not defined yet" (written as null): no boxed nulls on the hot path.
    state.indicators.updateNumbers(price, v)
    out.emit(
      this.config.volatilityTopic,
      symbol,
      volatilityJson(ts, state.quoted, price, v, this.config.indicators.window),
    )
    const bits = state.signals.update(price, Number.isNaN(v.volatility) ? null : v.volatility, v.outlier)
    if (bits !== 0) this.emitSignals(out, bits, ts, symbol, state, price, v)
    this.closeBars(out)
  }

  idleAdvance(nowMs: number): number | undefined {
    return this.watermark.idleAdvance(nowMs)
  }

  advanceTo(watermark: number, out: Emitter): void {
    this.watermark.advanceTo(watermark)
    this.closeBars(out)
  }

  snapshot(): Buffer {
    const names = [...this.symbols.keys()]
    const states: Float64Array[] = []
    const lengths: number[] = []
    for (const name of names) {
      const s = this.symbols.get(name)!
      const a = s.indicators.saveState()
      const b = s.signals.saveState()
      states.push(a, b)
      lengths.push(a.length, b.length)
    }
    const header = Buffer.from(
      JSON.stringify({
        v: SNAPSHOT_VERSION,
        config: fingerprint(this.config),
        names,
        lengths,
        watermark: this.watermark.saveState(),
        bars: this.aggregators.map((a) => a.saveState()),
      }),
    )
    const floats = lengths.reduce((n, l) => n + l, 0)
    // Header length, header, padding to 8 bytes, then every state's numbers back to back.
    const start = Math.ceil((4 + header.length) / 8) * 8
    const out = Buffer.alloc(start + floats * 8)
    out.writeUInt32LE(header.length, 0)
    header.copy(out, 4)
    let at = start
    for (const s of states) {
      Buffer.from(s.buffer, s.byteOffset, s.byteLength).copy(out, at)
      at += s.byteLength
    }
    return out
  }

  private restore(snapshot: Buffer): void {
    let header: {
      v: number
      config: string
      names: string[]
      lengths: number[]
      watermark: unknown
      bars: unknown[]
    }
    try {
      const length = snapshot.readUInt32LE(0)
      header = JSON.parse(snapshot.toString('utf8', 4, 4 + length)) as typeof header
      const start = Math.ceil((4 + length) / 8) * 8
      if (header.v !== SNAPSHOT_VERSION) throw new Error(`snapshot version ${header.v}`)
      const expected = fingerprint(this.config)
      if (header.config !== expected) {
        throw new TickflowError(
          ErrorCodes.CHECKPOINT,
          `the checkpoint was taken with other settings (${header.config}; now ${expected}): use another --group, or the same settings`,
        )
      }
      // Copied out so the numbers are 8-byte aligned whatever the buffer's offset.
      const all = new Float64Array(new Uint8Array(snapshot.subarray(start)).buffer)
      let at = 0
      for (let i = 0; i < header.names.length; i++) {
        const a = all.subarray(at, (at += header.lengths[2 * i]))
        const b = all.subarray(at, (at += header.lengths[2 * i + 1]))
        this.symbols.set(header.names[i], {
          quoted: jsonString(header.names[i]),
          indicators: SymbolIndicators.restore(this.config.indicators, a),
          signals: SymbolSignals.restore(this.config.signals, b),
        })
      }
      this.watermark = PartitionWatermark.restore(this.config.watermark, header.watermark)
      header.bars.forEach((state, i) => {
        this.aggregators[i] = BarAggregator.restore(this.config.bars[i], this.config.graceMs, state)
      })
    } catch (err) {
      if (err instanceof TickflowError && err.code === ErrorCodes.CHECKPOINT) throw err
      throw new TickflowError(ErrorCodes.CHECKPOINT, `analyze snapshot unreadable: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  private closeBars(out: Emitter): void {
    const w = this.watermark.current
    for (let i = 0; i < this.aggregators.length; i++) {
      const closed = this.aggregators[i].closeUpTo(w)
      for (const bar of closed) out.emit(this.barTopics[i], bar.symbol, barJson(bar))
    }
  }

  private emitSignals(
    out: Emitter,
    bits: number,
    ts: string,
    symbol: string,
    state: SymbolState,
    price: number,
    v: IndicatorNumbers,
  ): void {
    const head = `{"ts":"${ts}","symbol":${state.quoted},`
    const topic = this.config.signalsTopic
    if ((bits & (SignalBits.CROSS_UP | SignalBits.CROSS_DOWN)) !== 0) {
      const up = (bits & SignalBits.CROSS_UP) !== 0
      out.emit(
        topic,
        symbol,
        `${head}"type":"ema_cross","action":"${up ? 'BUY' : 'SELL'}","price":${price},"fast":${state.signals.fast},"slow":${state.signals.slow},"fast_span":${this.config.signals.fastSpan},"slow_span":${this.config.signals.slowSpan}}`,
      )
    }
    if ((bits & SignalBits.OUTLIER) !== 0) {
      out.emit(
        topic,
        symbol,
        `${head}"type":"outlier","action":"ALERT","price":${price},"zscore":${num(v.zscore)},"threshold":${this.config.indicators.zThreshold}}`,
      )
    }
    if ((bits & SignalBits.BREAKOUT) !== 0) {
      out.emit(
        topic,
        symbol,
        `${head}"type":"volatility_breakout","action":"ALERT","price":${price},"volatility":${num(v.volatility)},"baseline":${state.signals.previousBaseline},"ratio":${this.config.signals.breakoutRatio}}`,
      )
    }
  }
}

/** A number as JSON; NaN (undefined so far) and null as null. */
function num(x: number | null): string {
  return x === null || !Number.isFinite(x) ? 'null' : String(x)
}

/** One `volatility` record. */
function volatilityJson(ts: string, quotedSymbol: string, price: number, v: IndicatorNumbers, window: number): string {
  return (
    `{"ts":"${ts}","symbol":${quotedSymbol},"price":${price},"ema":${num(v.ema)},"sma":${num(v.sma)}` +
    `,"volatility":${num(v.volatility)},"price_std":${num(v.priceStd)},"zscore":${num(v.zscore)}` +
    `,"outlier":${v.outlier},"window":${window},"count":${v.count}}`
  )
}

/** One `bars.<interval>` record. */
function barJson(b: Bar): string {
  return (
    `{"symbol":${jsonString(b.symbol)},"interval":"${b.interval}","start":"${formatPriceTs(b.start)}","end":"${formatPriceTs(b.end)}"` +
    `,"open":${b.open},"high":${b.high},"low":${b.low},"close":${b.close},"volume":${b.volume},"vwap":${num(b.vwap)},"trades":${b.trades}}`
  )
}

// The settings a snapshot depends on: restoring under others would silently change results.
function fingerprint(c: AnalyzeConfig): string {
  const i = c.indicators
  const s = c.signals
  return (
    `window=${i.window} ema=${i.emaSpan}${i.emaAdjust ? '/adjust' : ''} z=${i.zThreshold}/${i.minPoints} ` +
    `signals=${s.fastSpan}/${s.slowSpan}/${s.breakoutRatio}/${s.baselineSpan}/${s.minPoints} ` +
    `bars=${c.bars.map((b) => b.label).join(',')} grace=${c.graceMs} lateness=${c.watermark.allowedLatenessMs}`
  )
}
