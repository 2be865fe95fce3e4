/**
 * Batch statistics per key for `tickflow stats`: count, min, max, mean, sample std (ddof = 1, as
 * Spark's `stddev` and pandas `.std()`) and the outlier rule |x − mean| > k·std. Each partition
 * folds values with Welford's update (accurate far from zero, where Σx² − n·mean² cancels to
 * noise); partials combine with Chan et al.'s parallel merge, so any split merges to the unsplit
 * result within rounding. Values must be finite (a NaN poisons its key): callers route such records
 * to the dead-letter topic; the hot path does not check.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** The default outlier threshold k, in standard deviations. */
export const DEFAULT_OUTLIER_K = 3

/** A mergeable running summary; `m2` = Σ(x − mean)². Empty: min +Infinity, max −Infinity. */
export interface StatsPartial {
  count: number
  mean: number
  m2: number
  min: number
  max: number
}

/** Finished statistics: min/max/mean null when count is 0, std (ddof = 1) null when count < 2. */
export interface SummaryStats {
  count: number
  min: number | null
  max: number | null
  mean: number | null
  std: number | null
}

/** A partial with no values. */
export function emptyPartial(): StatsPartial {
  // Every partial is created by this literal (same keys, same order) so V8 gives them one shape.
  return { count: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity }
}

/** Adds `x` to `p` in place (Welford). Allocation-free; `x` must be finite. */
export function addValue(p: StatsPartial, x: number): void {
  const n = p.count + 1
  const d = x - p.mean
  const mean = p.mean + d / n
  p.count = n
  p.mean = mean
  // d·(x − new mean) = d²·(n−1)/n ≥ 0: both factors have the sign of d, so m2 never decreases.
  p.m2 += d * (x - mean)
  if (x < p.min) p.min = x
  if (x > p.max) p.max = x
}

/** Folds `other` into `target` in place (Chan et al. parallel merge); `other` is unchanged. */
export function mergeInto(target: StatsPartial, other: StatsPartial): void {
  const nb = other.count
  if (nb === 0) return
  const na = target.count
  if (na === 0) {
    target.count = nb
    target.mean = other.mean
    target.m2 = other.m2
    target.min = other.min
    target.max = other.max
    return
  }
  const n = na + nb
  const d = other.mean - target.mean
  target.mean += d * (nb / n)
  target.m2 += other.m2 + d * d * ((na / n) * nb)
  target.count = n
  if (other.min < target.min) target.min = other.min
  if (other.max > target.max) target.max = other.max
}

/** The statistics of `p`; the variance is clamped at 0 before the square root. */
export function finishPartial(p: StatsPartial): SummaryStats {
  const n = p.count
  if (n === 0) return { count: 0, min: null, max: null, mean: null, std: null }
  const std = n < 2 ? null : Math.sqrt(Math.max(0, p.m2 / (n - 1)))
  return { count: n, min: p.min, max: p.max, mean: p.mean, std }
}

/** True when std is known and positive and |x − mean| > k·std (exactly k·std away is not). */
export function isOutlier(x: number, summary: SummaryStats, k: number = DEFAULT_OUTLIER_K): boolean {
  const std = summary.std
  const mean = summary.mean
  return std !== null && mean !== null && std > 0 && Math.abs(x - mean) > k * std
}

/** {@link KeyedStats} as plain objects, for structured clone and JSON (no empty, ±Infinity partials). */
export type KeyedStatsJSON = Record<string, StatsPartial>

// Plain assignment of the key `__proto__` would set the prototype instead; symbols are user data.
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}

function copyPartial(p: StatsPartial): StatsPartial {
  return { count: p.count, mean: p.mean, m2: p.m2, min: p.min, max: p.max }
}

function isValidPartial(p: unknown): p is StatsPartial {
  if (typeof p !== 'object' || p === null) return false
  const { count, mean, m2, min, max } = p as Record<string, unknown>
  return (
    typeof count === 'number' &&
    Number.isSafeInteger(count) &&
    count > 0 &&
    typeof mean === 'number' &&
    Number.isFinite(mean) &&
    typeof m2 === 'number' &&
    Number.isFinite(m2) &&
    m2 >= 0 &&
    typeof min === 'number' &&
    typeof max === 'number' &&
    Number.isFinite(min) &&
    Number.isFinite(max) &&
    min <= max
  )
}

/** Statistics per key (per symbol), each a {@link StatsPartial}. */
export class KeyedStats {
  readonly #partials = new Map<string, StatsPartial>()

  /** Number of keys with at least one value. */
  get size(): number {
    return this.#partials.size
  }

  /** Adds value `x` under `key`. */
  add(key: string, x: number): void {
    let p = this.#partials.get(key)
    if (p === undefined) {
      p = emptyPartial()
      this.#partials.set(key, p)
    }
    addValue(p, x)
  }

  /** The partial of `key` (a copy), or undefined when the key has no values. */
  get(key: string): StatsPartial | undefined {
    const p = this.#partials.get(key)
    return p === undefined ? undefined : copyPartial(p)
  }

  /** Folds every key of `other` into this one; `other` is unchanged. Returns `this`. */
  merge(other: KeyedStats): this {
    for (const [key, p] of other.#partials) this.#mergePartial(key, p)
    return this
  }

  #mergePartial(key: string, p: StatsPartial): void {
    if (p.count === 0) return
    const mine = this.#partials.get(key)
    if (mine === undefined) this.#partials.set(key, copyPartial(p))
    else mergeInto(mine, p)
  }

  /** The plain-object form, for `postMessage` or JSON; copies, so later adds do not leak into it. */
  toJSON(): KeyedStatsJSON {
    const out: KeyedStatsJSON = {}
    for (const [key, p] of this.#partials) setOwn(out, key, copyPartial(p))
    return out
  }

  /**
   * Rebuilds from {@link KeyedStats.toJSON} output; entries with count 0 are skipped.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when an entry is not a well-formed partial
   */
  static fromJSON(json: KeyedStatsJSON): KeyedStats {
    const stats = new KeyedStats()
    for (const key of Object.keys(json)) {
      const p: unknown = json[key]
      if (typeof p === 'object' && p !== null && (p as { count?: unknown }).count === 0) continue
      if (!isValidPartial(p)) {
        throw new TickflowError(
          ErrorCodes.INVALID_ARGUMENT,
          `malformed statistics partial for key ${JSON.stringify(key)}`,
        )
      }
      // Rebuilt field by field: a clone's objects are not guaranteed to share our partials' shape.
      stats.#mergePartial(key, p)
    }
    return stats
  }

  /** Statistics per key, in code-unit order (though JS objects list integer-like keys first). */
  summary(): Record<string, SummaryStats> {
    const keys = [...this.#partials.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const out: Record<string, SummaryStats> = {}
    for (const key of keys) setOwn(out, key, finishPartial(this.#partials.get(key) as StatsPartial))
    return out
  }
}
