/**
 * Exponential moving average with pandas' `ewm(span=N).mean()` conventions: α = 2/(N+1).
 *
 * - Recursive form (pandas `adjust=False`, tickflow's default): y₀ = x₀, yₜ = (1−α)·yₜ₋₁ + α·xₜ.
 * - Normalised form (pandas `adjust=True`): num = x + (1−α)·num, den = 1 + (1−α)·den,
 *   EMA = num/den, i.e. Σ(1−α)ⁱ·xₜ₋ᵢ / Σ(1−α)ⁱ over every value seen. The two forms converge; at
 *   N = 100 they differ visibly for the first few hundred values.
 *
 * Both are O(1) and allocation-free per value; the state is two numbers and a count.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** α = 2/(span+1) for a span ≥ 1 (pandas `ewm(span=…)`); throws INVALID_ARGUMENT otherwise. */
export function emaAlpha(span: number): number {
  if (typeof span !== 'number' || !Number.isFinite(span) || span < 1) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `EMA span must be a finite number >= 1, got ${span}`)
  }
  return 2 / (span + 1)
}

/** One exponential moving average; see the module comment for the two forms. */
export class Ema {
  /** The smoothing factor α = 2/(span+1). */
  readonly alpha: number
  /** 1 − α, the weight of the previous state. */
  readonly decay: number
  /** True for the normalised (pandas adjust=True) form. */
  readonly adjust: boolean
  /** Values seen. */
  count = 0
  /** Recursive form: the EMA itself. Normalised form: the numerator Σ(1−α)ⁱ·xₜ₋ᵢ. */
  a = 0
  /** Normalised form: the denominator Σ(1−α)ⁱ (0 in the recursive form). */
  b = 0

  constructor(span: number, adjust: boolean) {
    this.alpha = emaAlpha(span)
    this.decay = 1 - this.alpha
    this.adjust = adjust
  }

  /** Adds `x` and returns the EMA including it. */
  update(x: number): number {
    this.count++
    if (this.adjust) {
      this.a = x + this.decay * this.a
      this.b = 1 + this.decay * this.b
      return this.a / this.b
    }
    // As pandas: the first value starts the average, and an average already equal to x is kept
    // as is, so a constant series gives exactly that constant (no last-bit wobble).
    if (this.count === 1) this.a = x
    else if (this.a !== x) this.a = this.decay * this.a + this.alpha * x
    return this.a
  }

  /** The current EMA, NaN before the first value. */
  get value(): number {
    if (this.count === 0) return NaN
    return this.adjust ? this.a / this.b : this.a
  }

  /** Sets the state saved from another Ema of the same span and form (`count`, `a`, `b`). */
  setState(count: number, a: number, b: number): void {
    this.count = count
    this.a = a
    this.b = b
  }
}
