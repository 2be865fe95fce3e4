/**
 * The synthetic feeds' seeded generator: sfc32 (Doty-Humphrey's "small fast chaotic", 128-bit state,
 * passes PractRand) seeded by the cyrb128 string hash. 32-bit integer arithmetic throughout, so a
 * seed gives the same sequence everywhere. Reproducible, not cryptographic.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** A seed: a number and its decimal string (`42` and `'42'`) give the same sequence. */
export type Seed = number | string

const TWO_POW_32 = 4294967296

// cyrb128 (bryc, public domain): four mixed 32-bit lanes over the UTF-16 code units.
function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

/** A seeded generator; all methods draw from one stream, so the same seed and calls give the same values. */
export class Random {
  // sfc32 state, kept as int32 so V8 stores small integers, not boxed doubles.
  private a: number
  private b: number
  private c: number
  private d: number
  // Marsaglia's polar method yields normals in pairs; the second waits here.
  private hasSpare: boolean
  private spare: number

  /** @throws TICKFLOW_ERR_INVALID_ARGUMENT when `seed` is a non-finite number */
  constructor(seed: Seed) {
    if (typeof seed === 'number' && !Number.isFinite(seed)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `random seed must be finite, got ${seed}`)
    }
    const [a, b, c, d] = cyrb128(String(seed))
    this.a = a | 0
    this.b = b | 0
    this.c = c | 0
    this.d = d | 0
    this.hasSpare = false
    this.spare = 0
    // The first outputs of sfc32 still show the seed's structure; discard them.
    for (let i = 0; i < 15; i++) this.uint32()
  }

  /** A uniform unsigned 32-bit integer. */
  uint32(): number {
    // tmp = a + b + counter++ (the counter d guarantees a period of at least 2³²)
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (((this.c << 21) | (this.c >>> 11)) + t) | 0
    return t >>> 0
  }

  /** A uniform number in [0, 1), with 32 bits of resolution (steps of 2⁻³²). */
  next(): number {
    return this.uint32() / TWO_POW_32
  }

  /** A standard normal deviate, N(0, 1) (Marsaglia's polar method, spare cached). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false
      return this.spare
    }
    let u: number
    let v: number
    let s: number
    do {
      u = 2 * this.next() - 1
      v = 2 * this.next() - 1
      s = u * u + v * v
    } while (s >= 1 || s === 0)
    const f = Math.sqrt((-2 * Math.log(s)) / s)
    this.spare = v * f
    this.hasSpare = true
    return u * f
  }

  /**
   * A uniform integer in [lo, hi], inclusive; at most 2³² values (scaling bias < range / 2³²).
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when the bounds are not safe integers with lo ≤ hi
   */
  int(lo: number, hi: number): number {
    const span = hi - lo + 1
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || span < 1 || span > TWO_POW_32) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `invalid integer range [${lo}, ${hi}]`)
    }
    return lo + Math.floor(this.next() * span)
  }

  /** A uniformly chosen element. @throws TICKFLOW_ERR_INVALID_ARGUMENT when `items` is empty */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'cannot pick from an empty array')
    return items[Math.floor(this.next() * items.length)]
  }
}
