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
import { JsonLiteral, JsonWriter } from '../bus/topics/json-writer.ts'
import { pricesTopic, scanPrice, type PriceScan } from '../bus/topics/prices.ts'
import { formatPriceTs, parsePriceTs } from '../bus/time.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { BytesMap } from './bytes-map.ts'
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
  name: string
  /** The symbol's UTF-8 bytes: the key of its output records. */
  key: Buffer
  /** The symbol as a JSON string literal, quoted once. */
  quoted: Buffer
  indicators: SymbolIndicators
  signals: SymbolSignals
}

// The constant pieces of the output records (numbers are written with 15 significant digits:
// see json-writer.ts and the README's "Analytics").
const L = {
  ts: new JsonLiteral('{"ts":"'),
  symbol: new JsonLiteral('","symbol":'),
  price: new JsonLiteral(',"price":'),
  ema: new JsonLiteral(',"ema":'),
  sma: new JsonLiteral(',"sma":'),
  volatility: new JsonLiteral(',"volatility":'),
  priceStd: new JsonLiteral(',"price_std":'),
  zscore: new JsonLiteral(',"zscore":'),
  outlier: new JsonLiteral(',"outlier":'),
  close: new JsonLiteral('}'),
  cross: new JsonLiteral(',"type":"ema_cross","action":"'),
  fast: new JsonLiteral('","price":'),
  fastValue: new JsonLiteral(',"fast":'),
  slow: new JsonLiteral(',"slow":'),
  outlierType: new JsonLiteral(',"type":"outlier","action":"ALERT","price":'),
  threshold: new JsonLiteral(',"threshold":'),
  breakout: new JsonLiteral(',"type":"volatility_breakout","action":"ALERT","price":'),
  baseline: new JsonLiteral(',"baseline":'),
  ratio: new JsonLiteral(',"ratio":'),
}

const SNAPSHOT_VERSION = 1

export class AnalyzePartition implements PartitionProcessor {
  private readonly config: AnalyzeConfig
  private readonly symbols = new BytesMap<SymbolState>()
  private readonly aggregators: BarAggregator[]
  private readonly barTopics: string[]
  private watermark: PartitionWatermark
  private readonly values: IndicatorNumbers = newIndicatorNumbers()
  private readonly scan: PriceScan = { tsMs: 0, symbolStart: 0, symbolEnd: 0, price: 0 }
  /** Builds every output record; its view is copied by the emitter at once. */
  private readonly json = new JsonWriter(1024)
  /** `,"window":N,"count":` for this config. */
  private readonly windowCount: JsonLiteral
  /** `,"fast_span":F,"slow_span":S}` for this config. */
  private readonly spans: JsonLiteral
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
    this.windowCount = new JsonLiteral(`,"window":${config.indicators.window},"count":`)
    this.spans = new JsonLiteral(`,"fast_span":${config.signals.fastSpan},"slow_span":${config.signals.slowSpan}}`)
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
    // The ts text of the output records: bytes [tsAt, tsAt + 23) of tsBytes.
    let tsBytes: Buffer
    let tsAt: number
    // The symbol: bytes [symbolStart, symbolEnd) of symbolBytes.
    let symbolBytes: Buffer
    let symbolStart: number
    let symbolEnd: number
    let price: number
    let quantity = 1
    const scan = this.scan
    if (value !== null && scanPrice(value, scan)) {
      // The canonical layout: ts, symbol and price read in place, no string made.
      tsMs = scan.tsMs
      tsBytes = value
      tsAt = 7
      price = scan.price
      symbolBytes = value
      symbolStart = scan.symbolStart
      symbolEnd = scan.symbolEnd
    } else {
      const decoded = pricesTopic.decode(value)
      if (!decoded.ok) {
        out.deadLetter(decoded.reason, 'invalid')
        return
      }
      const v = decoded.value as unknown as Record<string, unknown>
      tsMs = parsePriceTs(decoded.value.ts)!
      tsBytes = Buffer.from(formatPriceTs(tsMs), 'latin1')
      tsAt = 0
      price = decoded.value.price
      const q = typeof v.volume === 'number' ? v.volume : typeof v.quantity === 'number' ? v.quantity : 1
      if (!(q > 0) || !Number.isFinite(q)) {
        out.deadLetter(`volume must be a positive number (got ${String(q)})`, 'invalid')
        return
      }
      quantity = q
      symbolBytes = Buffer.from(decoded.value.symbol)
      symbolStart = 0
      symbolEnd = symbolBytes.length
    }
    if (this.isLate(tsMs, out)) return
    const state =
      this.symbols.get(symbolBytes, symbolStart, symbolEnd) ??
      this.addSymbol(symbolBytes.toString('utf8', symbolStart, symbolEnd))
    const w = this.watermark.current
    this.watermark.observe(tsMs, Date.now())
    for (const a of this.aggregators) a.add(state.name, tsMs, price, quantity, w)
    const v = this.values
    // NaN marks "not defined yet" (written as null): no boxed nulls on the hot path.
    state.indicators.updateNumbers(price, v)
    const j = this.json
    j.reset()
    j.literal(L.ts)
    j.bytes(tsBytes, tsAt, tsAt + 23)
    j.literal(L.symbol)
    j.raw(state.quoted)
    j.literal(L.price)
    j.number(price)
    j.literal(L.ema)
    j.number(v.ema)
    j.literal(L.sma)
    j.number(v.sma)
    j.literal(L.volatility)
    j.number(v.volatility)
    j.literal(L.priceStd)
    j.number(v.priceStd)
    j.literal(L.zscore)
    j.number(v.zscore)
    j.literal(L.outlier)
    j.bool(v.outlier)
    j.literal(this.windowCount)
    j.int(v.count)
    j.literal(L.close)
    out.emit(this.config.volatilityTopic, state.key, j.view())
    const bits = state.signals.update(price, Number.isNaN(v.volatility) ? null : v.volatility, v.outlier)
    if (bits !== 0) this.emitSignals(out, bits, tsBytes, tsAt, state, price, v)
    this.closeBars(out)
  }

  /**
   * Late: the record's window of some interval is already final. It then feeds nothing — not the
   * indicators, not the intervals where it would still fit — so every output agrees on one set of
   * ticks. Dead-letters it and returns true.
   */
  private isLate(tsMs: number, out: Emitter): boolean {
    const w = this.watermark.current
    for (const a of this.aggregators) {
      if (a.isLate(tsMs, w)) {
        const end = windowStart(tsMs, a.interval.ms) + a.interval.ms
        out.deadLetter(
          `late: event time ${formatPriceTs(tsMs)} is in the ${a.interval.label} window ending ${formatPriceTs(end)}, already closed (watermark ${formatPriceTs(w)})`,
          'late',
        )
        return true
      }
    }
    return false
  }

  private addSymbol(name: string, indicators?: SymbolIndicators, signals?: SymbolSignals): SymbolState {
    const state: SymbolState = {
      name,
      key: Buffer.from(name),
      quoted: Buffer.from(jsonString(name)),
      indicators: indicators ?? new SymbolIndicators(this.config.indicators),
      signals: signals ?? new SymbolSignals(this.config.signals),
    }
    this.symbols.set(state.key, state)
    return state
  }

  idleAdvance(nowMs: number): number | undefined {
    return this.watermark.idleAdvance(nowMs)
  }

  advanceTo(watermark: number, out: Emitter): void {
    this.watermark.advanceTo(watermark)
    this.closeBars(out)
  }

  snapshot(): Buffer {
    const names: string[] = []
    const states: Float64Array[] = []
    const lengths: number[] = []
    for (const s of this.symbols.values()) {
      names.push(s.name)
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
        this.addSymbol(
          header.names[i],
          SymbolIndicators.restore(this.config.indicators, a),
          SymbolSignals.restore(this.config.signals, b),
        )
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
      for (const bar of closed) out.emit(this.barTopics[i], bar.symbol, this.barJson(bar))
    }
  }

  /** One `bars.<interval>` record, as a view of the writer. */
  private barJson(b: Bar): Buffer {
    const j = this.json
    j.reset()
    j.ascii('{"symbol":')
    j.string(b.symbol)
    j.ascii(`,"interval":"${b.interval}","start":"${formatPriceTs(b.start)}","end":"${formatPriceTs(b.end)}","open":`)
    j.number(b.open)
    j.ascii(',"high":')
    j.number(b.high)
    j.ascii(',"low":')
    j.number(b.low)
    j.ascii(',"close":')
    j.number(b.close)
    j.ascii(',"volume":')
    j.number(b.volume)
    j.ascii(',"vwap":')
    j.number(b.vwap)
    j.ascii(',"trades":')
    j.int(b.trades)
    j.ascii('}')
    return j.view()
  }

  private emitSignals(
    out: Emitter,
    bits: number,
    tsBytes: Buffer,
    tsAt: number,
    state: SymbolState,
    price: number,
    v: IndicatorNumbers,
  ): void {
    const topic = this.config.signalsTopic
    const j = this.json
    const head = (): void => {
      j.reset()
      j.literal(L.ts)
      j.bytes(tsBytes, tsAt, tsAt + 23)
      j.literal(L.symbol)
      j.raw(state.quoted)
    }
    if ((bits & (SignalBits.CROSS_UP | SignalBits.CROSS_DOWN)) !== 0) {
      head()
      j.literal(L.cross)
      j.ascii((bits & SignalBits.CROSS_UP) !== 0 ? 'BUY' : 'SELL')
      j.literal(L.fast)
      j.number(price)
      j.literal(L.fastValue)
      j.number(state.signals.fast)
      j.literal(L.slow)
      j.number(state.signals.slow)
      j.literal(this.spans)
      out.emit(topic, state.key, j.view())
    }
    if ((bits & SignalBits.OUTLIER) !== 0) {
      head()
      j.literal(L.outlierType)
      j.number(price)
      j.literal(L.zscore)
      j.number(v.zscore)
      j.literal(L.threshold)
      j.number(this.config.indicators.zThreshold)
      j.literal(L.close)
      out.emit(topic, state.key, j.view())
    }
    if ((bits & SignalBits.BREAKOUT) !== 0) {
      head()
      j.literal(L.breakout)
      j.number(price)
      j.literal(L.volatility)
      j.number(v.volatility)
      j.literal(L.baseline)
      j.number(state.signals.previousBaseline)
      j.literal(L.ratio)
      j.number(this.config.signals.breakoutRatio)
      j.literal(L.close)
      out.emit(topic, state.key, j.view())
    }
  }
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
