/**
 * Rolling mean and sample variance (ddof = 1) over the last N values, O(1) per value, held to the
 * accuracy of a two-pass computation on every window however long the run.
 *
 * Welford's add/remove update (what pandas' `rolling().std()` does) lets rounding errors pile up in
 * the sum of squared deviations: after a volatile stretch has left the window, a quiet window keeps
 * the absolute error of the loud one, and pandas 1.5 is then off by up to 1e-4 relative (see
 * scripts/pandas/indicators.py). Here instead:
 *
 * - Each value enters as a = fl(x − K) and a·a for a shift K, into two sums S1 = Σa and S2 = Σa²
 *   kept in double-double form (Knuth's TwoSum: sum + compensation). A value leaving the window is
 *   subtracted as the very same two doubles it was added as (K has not changed meanwhile), and
 *   TwoSum is exact, so the sums hold Σa and Σa² of the window's values; only the compensation
 *   term's own rounding (~2⁻¹⁰⁶ of the sum per value) accumulates, negligible over billions.
 * - M2 = Σ(x − mean)² = S2 − S1²/n. The only cancellation is n·(mean − K)², which is small while K
 *   is near the mean; when S2 exceeds 1024·M2 (mean drifted about 32 std away from K, or the
 *   variance collapsed) the window is rebased: K = current mean and both sums are recomputed from
 *   the ring (O(N), rare: a random walk needs thousands of values to drift that far). The rounding
 *   of the terms and of S2 − S1²/n then stays within a few 1024·2⁻⁵³ of M2: about 1e-12 relative
 *   at worst (test/analytics/rolling.test.ts measures 2e-13 on the std).
 * - A window whose values are all equal (tracked as the run of equal trailing values) has variance
 *   exactly 0 and mean exactly that value, as pandas does (GH#42064), so z-scores against a flat
 *   window are "undefined", never a huge number divided by rounding noise.
 */

/** Rebase when S2 > REBASE_RATIO · M2; see the module comment. */
const REBASE_RATIO = 1024

/** The last `capacity` values in a ring buffer, with their mean and sum of squared deviations. */
export class RollingMoments {
  /** N, the window length. */
  readonly capacity: number
  /** Holds the window's values: slot j at buf[offset + j·stride]; the oldest is at `head` once full. */
  readonly buf: Float64Array
  readonly offset: number
  readonly stride: number
  /** The slot the next value goes to. */
  head = 0
  /** Values in the window (≤ capacity). */
  size = 0
  /** The shift K. */
  shift = 0
  /** S1 = Σ(x − K) as sum + compensation. */
  s1 = 0
  c1 = 0
  /** S2 = Σ(x − K)² as sum + compensation. */
  s2 = 0
  c2 = 0
  /** How many trailing values are equal to `last`, capped at capacity. */
  run = 0
  /** The newest value. */
  last = NaN
  /** Mean of the window (NaN when empty). */
  mean = NaN
  /** Σ(x − mean)² over the window, ≥ 0. */
  m2 = 0
  /** Sample standard deviation (ddof = 1); NaN with fewer than 2 values. */
  std = NaN

  private readonly invN: number
  private readonly invN1: number

  /**
   * A window of `capacity` ≥ 1 values. The ring lives in `buf` (own by default); a caller may
   * interleave several rings in one buffer (`offset`, `stride`) so one tick touches one cache line.
   */
  constructor(capacity: number, buf?: Float64Array, offset = 0, stride = 1) {
    this.capacity = capacity
    this.buf = buf ?? new Float64Array(capacity)
    this.offset = offset
    this.stride = stride
    if (offset < 0 || offset + (capacity - 1) * stride >= this.buf.length) throw new RangeError('ring outside buffer')
    this.invN = 1 / capacity
    this.invN1 = 1 / (capacity - 1)
  }

  /** Adds `x`, evicting the oldest value once the window is full. */
  push(x: number): void {
    const cap = this.capacity
    const h = this.head
    let k = this.shift
    let s1 = this.s1
    let c1 = this.c1
    let s2 = this.s2
    let c2 = this.c2
    let d1: number
    let d2: number
    let t: number
    let z: number
    if (this.size === cap) {
      // Replace the oldest value: add (b − a) and (b² − a²), where a and a² are the very doubles it
      // was added with. TwoSum (Knuth) gives each difference exactly as sum + error.
      const b = x - k
      const bb = b * b
      const a = k - this.buf[this.offset + h * this.stride] // −(old − K): negation commutes with rounding
      const aa = -(a * a)
      d1 = b + a
      z = d1 - b
      c1 += b - (d1 - z) + (a - z)
      d2 = bb + aa
      z = d2 - bb
      c2 += bb - (d2 - z) + (aa - z)
    } else {
      if (this.size === 0) {
        // The first value is the shift: its terms are exactly 0.
        this.shift = k = x
        s1 = c1 = s2 = c2 = 0
      }
      this.size++
      d1 = x - k
      d2 = d1 * d1
    }
    t = s1 + d1
    z = t - s1
    this.c1 = c1 + (s1 - (t - z) + (d1 - z))
    this.s1 = t
    t = s2 + d2
    z = t - s2
    this.c2 = c2 + (s2 - (t - z) + (d2 - z))
    this.s2 = t
    this.buf[this.offset + h * this.stride] = x
    this.head = h + 1 === cap ? 0 : h + 1
    if (x === this.last) {
      if (this.run < cap) this.run++
    } else {
      this.run = 1
      this.last = x
    }
    this.settle(true)
  }

  /** The value in ring slot `slot`. */
  valueAt(slot: number): number {
    return this.buf[this.offset + slot * this.stride]
  }

  /** The mean minus x, computed from the shifted sums so it is accurate even when x ≈ mean. */
  deviation(x: number): number {
    // (x − K) is exact when x and K are within a factor 2 (Sterbenz), and S1/n is small, so this is
    // accurate to the std's scale, where x − mean would carry an error of one ulp of the mean.
    const n = this.size
    if (this.run >= n) return x - this.last
    return x - this.shift - (this.s1 + this.c1) * (n === this.capacity ? this.invN : 1 / n)
  }

  /**
   * Replaces the content with `values[from..to)` (oldest first) and the saved shift and sums. Used
   * by checkpoint restore: run, last, mean and std are recomputed exactly as push() left them.
   */
  load(values: ArrayLike<number>, from: number, to: number, shift: number, sums: ArrayLike<number>, at: number): void {
    const n = to - from
    for (let i = 0; i < this.capacity; i++) this.buf[this.offset + i * this.stride] = i < n ? values[from + i] : 0
    this.size = n
    this.head = n === this.capacity ? 0 : n
    this.shift = shift
    this.s1 = sums[at]
    this.c1 = sums[at + 1]
    this.s2 = sums[at + 2]
    this.c2 = sums[at + 3]
    this.last = n > 0 ? values[to - 1] : NaN
    let run = 0
    while (run < n && values[to - 1 - run] === this.last) run++
    this.run = run
    if (n === 0) {
      this.mean = NaN
      this.m2 = 0
      this.std = NaN
    } else this.settle(false)
  }

  /** Writes shift, S1 (sum, compensation) and S2 (sum, compensation) at `out[at..at+5)`. */
  saveSums(out: Float64Array, at: number): void {
    out[at] = this.shift
    out[at + 1] = this.s1
    out[at + 2] = this.c1
    out[at + 3] = this.s2
    out[at + 4] = this.c2
  }

  /** Copies the window's values, oldest first, into `out` from `at`; returns how many. */
  copyValues(out: Float64Array, at: number): number {
    const n = this.size
    const cap = this.capacity
    let i = this.head - n
    if (i < 0) i += cap
    for (let j = 0; j < n; j++) {
      out[at + j] = this.buf[this.offset + i * this.stride]
      if (++i === cap) i = 0
    }
    return n
  }

  /** Recomputes mean, m2 and std from the sums; rebases first when cancellation got too large. */
  private settle(mayRebase: boolean): void {
    const n = this.size
    if (this.run >= n) {
      this.mean = this.last
      this.m2 = 0
      this.std = n > 1 ? 0 : NaN
      return
    }
    // A full window multiplies by precomputed reciprocals (division is the slowest step here);
    // that costs at most an ulp, and restore() runs this same code, so results stay bit-identical.
    const full = n === this.capacity
    const inv = full ? this.invN : 1 / n
    let s1 = this.s1 + this.c1
    let s2 = this.s2 + this.c2
    let m2 = s2 - s1 * s1 * inv
    // `!(m2 > …)` is also true for NaN; on restore the state is taken as saved (it was settled).
    if (mayRebase && !(m2 * REBASE_RATIO > s2)) {
      this.rebase(this.shift + s1 * inv)
      s1 = this.s1 + this.c1
      s2 = this.s2 + this.c2
      m2 = s2 - s1 * s1 * inv
    }
    if (!(m2 > 0)) m2 = 0
    this.mean = this.shift + s1 * inv
    this.m2 = m2
    this.std = Math.sqrt(m2 * (full ? this.invN1 : 1 / (n - 1)))
  }

  /** K = `shift`, and both sums recomputed over the window, oldest value first. */
  private rebase(shift: number): void {
    const cap = this.capacity
    const n = this.size
    let i = this.head - n
    if (i < 0) i += cap
    let s1 = 0
    let c1 = 0
    let s2 = 0
    let c2 = 0
    for (let j = 0; j < n; j++) {
      const b = this.buf[this.offset + i * this.stride] - shift
      const sq = b * b
      let t = s1 + b
      let z = t - s1
      c1 += s1 - (t - z) + (b - z)
      s1 = t
      t = s2 + sq
      z = t - s2
      c2 += s2 - (t - z) + (sq - z)
      s2 = t
      if (++i === cap) i = 0
    }
    this.shift = shift
    this.s1 = s1
    this.c1 = c1
    this.s2 = s2
    this.c2 = c2
  }
}
