/**
 * The event-time watermark of one partition: the largest event time seen minus the allowed
 * lateness. It never moves backwards: not for out-of-order records, idle advances or restores.
 *
 * A silent partition would hold its watermark and keep every symbol's windows open, so
 * {@link PartitionWatermark.idleAdvance} proposes an advance after `idleTimeoutMs` of silence and
 * the caller applies it with {@link PartitionWatermark.advanceTo}; the runtime records each applied
 * advance at its input position so a replay repeats it. Pure: wall time is passed in, never read.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** Watermark settings of a partition. */
export interface WatermarkConfig {
  /** How far behind the largest event time seen the watermark trails, in ms (≥ 0). */
  allowedLatenessMs: number
  /** Wall-clock silence after which the watermark advances with wall time, in ms; 0 = never. */
  idleTimeoutMs: number
}

/** Saved form; `null` stands for −Infinity. */
interface WatermarkState {
  v: 1
  maxEventTime: number | null
  watermark: number | null | 'Infinity'
}

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_ARGUMENT, message)
}

function checkConfig(config: WatermarkConfig): void {
  const { allowedLatenessMs, idleTimeoutMs } = config
  if (!(Number.isFinite(allowedLatenessMs) && allowedLatenessMs >= 0)) {
    throw invalid(`allowed lateness must be a finite number of ms ≥ 0 (got ${allowedLatenessMs})`)
  }
  if (!(Number.isFinite(idleTimeoutMs) && idleTimeoutMs >= 0)) {
    throw invalid(`idle timeout must be a finite number of ms ≥ 0 (got ${idleTimeoutMs})`)
  }
}

/** The watermark of one partition; see the module comment. */
export class PartitionWatermark {
  readonly #lateness: number
  readonly #idleTimeout: number
  #maxEventTime = -Infinity
  #watermark = -Infinity
  // Wall time idleness is measured from (the last record); undefined until there is one.
  #quietSince: number | undefined = undefined

  /** @throws TICKFLOW_ERR_INVALID_ARGUMENT when a setting is negative or not finite */
  constructor(config: WatermarkConfig) {
    checkConfig(config)
    this.#lateness = config.allowedLatenessMs
    this.#idleTimeout = config.idleTimeoutMs
  }

  /** The current watermark in epoch ms (−Infinity before any record or advance). */
  get current(): number {
    return this.#watermark
  }

  /** The largest event time observed (−Infinity before any record). */
  get maxEventTime(): number {
    return this.#maxEventTime
  }

  /**
   * Observes the event time of an accepted record; `nowMs` is wall time, used only for idleness.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `eventTimeMs` is not finite
   */
  observe(eventTimeMs: number, nowMs: number): void {
    if (!Number.isFinite(eventTimeMs)) throw invalid(`event time must be finite (got ${eventTimeMs})`)
    if (eventTimeMs > this.#maxEventTime) {
      this.#maxEventTime = eventTimeMs
      const w = eventTimeMs - this.#lateness
      if (w > this.#watermark) this.#watermark = w
    }
    this.#quietSince = nowMs
  }

  /**
   * Asked periodically with wall time. When no record arrived for `idleTimeoutMs`, returns the
   * watermark the partition should advance to — the largest event time plus the wall time elapsed
   * since the last record, minus `idleTimeoutMs` and the allowed lateness — or undefined when the
   * watermark should not move (not idle yet, idleness disabled, no record ever, or the proposal is
   * not ahead of the current watermark). Changes nothing, except that the first call after
   * {@link PartitionWatermark.restore} starts the idle clock (wall time from before a restart
   * says nothing about the backlog waiting to be read, so the downtime is not counted).
   */
  idleAdvance(nowMs: number): number | undefined {
    if (this.#idleTimeout === 0 || this.#maxEventTime === -Infinity) return undefined
    if (this.#quietSince === undefined) {
      this.#quietSince = nowMs
      return undefined
    }
    const quiet = nowMs - this.#quietSince
    // Comparisons false for NaN, so a bad clock reading proposes nothing.
    if (!(quiet >= this.#idleTimeout)) return undefined
    // Subtracting the timeout makes the proposal continuous: at the moment the partition turns idle
    // it equals the record-driven watermark, then grows at wall-clock speed.
    const proposal = this.#maxEventTime + (quiet - this.#idleTimeout) - this.#lateness
    return proposal > this.#watermark ? proposal : undefined
  }

  /**
   * Moves the watermark to `watermark` if that is ahead of it (never backwards). `+Infinity`
   * finalises every window, e.g. at the end of a bounded input.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `watermark` is NaN
   */
  advanceTo(watermark: number): void {
    if (Number.isNaN(watermark)) throw invalid('watermark must be a number (got NaN)')
    if (watermark > this.#watermark) this.#watermark = watermark
  }

  /** JSON-serialisable state: the largest event time and the watermark (wall times are not kept). */
  saveState(): unknown {
    const w = this.#watermark
    const state: WatermarkState = {
      v: 1,
      maxEventTime: this.#maxEventTime === -Infinity ? null : this.#maxEventTime,
      watermark: w === -Infinity ? null : w === Infinity ? 'Infinity' : w,
    }
    return state
  }

  /**
   * Rebuilds a watermark from {@link PartitionWatermark.saveState}, exactly where it was; `config`
   * may differ from the saved one (a changed lateness applies to new records only).
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `state` is not such state, or `config` is invalid
   */
  static restore(config: WatermarkConfig, state: unknown): PartitionWatermark {
    const wm = new PartitionWatermark(config)
    if (typeof state !== 'object' || state === null) throw invalid('watermark state must be an object')
    const { v, maxEventTime, watermark } = state as Record<string, unknown>
    if (v !== 1) throw invalid(`unsupported watermark state version ${JSON.stringify(v)}`)
    if (!(maxEventTime === null || (typeof maxEventTime === 'number' && Number.isFinite(maxEventTime)))) {
      throw invalid('watermark state: maxEventTime must be a finite number or null')
    }
    let w: number
    if (watermark === null) w = -Infinity
    else if (watermark === 'Infinity') w = Infinity
    else if (typeof watermark === 'number' && Number.isFinite(watermark)) w = watermark
    else throw invalid('watermark state: watermark must be a finite number, null or "Infinity"')
    wm.#maxEventTime = maxEventTime ?? -Infinity
    wm.#watermark = w
    return wm
  }
}
