/**
 * JSON written straight into bytes, for processors that emit one record per input tick: a
 * reusable growing buffer ({@link JsonWriter}) and number formatting without intermediate strings.
 *
 * Numbers are written with 15 significant digits ({@link writeNumber15}): exactly the bytes of
 * `String(Number(x.toPrecision(15)))`. A value that came from a decimal of at most 15 significant
 * digits (a price such as 238.32) comes out as that decimal, and full-precision analytics values
 * keep 15 digits, which is what a double holds reliably.
 */

/**
 * The room {@link writeNumber15} needs after its start: the longest output is 23 bytes
 * (`-0.00000` and 15 digits), and it may overwrite bytes past its end up to this many.
 */
export const MAX_NUMBER_BYTES = 24

/** The room {@link writeInt} needs after its start (`-9007199254740991` is 17 bytes). */
export const MAX_INT_BYTES = 24

// 10^k for k = 0..22: each is an exact double (5^22 < 2^53), so a * 10^k has a single rounding.
const POW10 = new Float64Array(23)
for (let k = 0; k < 23; k++) POW10[k] = 10 ** k

// By the binary exponent b of a in [1e-8, 1e15), so b in [-27, 49], indexed by b + 27:
// EXP10 = max(floor(b log10 2), -8) and NEXT_POW10 = 10^(EXP10 + 1), the double nearest to it.
// The index is the biased exponent field minus EXP_INDEX_BASE.
const EXP_INDEX_BASE = 1023 - 27
const EXP10 = new Int32Array(77)
const NEXT_POW10 = new Float64Array(77)
for (let b = -27; b <= 49; b++) {
  const e = Math.max(Math.floor(b * Math.log10(2)), -8)
  EXP10[b + 27] = e
  NEXT_POW10[b + 27] = Number(`1e${e + 1}`)
}

// The high 32 bits of a double (sign, exponent, top of the significand), read through F64.
const F64 = new Float64Array(1)
const U32 = new Uint32Array(F64.buffer)
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0

// Veltkamp's splitter for doubles: 2^27 + 1 cuts a 53-bit significand into two 26-bit halves.
const SPLITTER = 134217729

const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30
// Little-endian words for DataView.setUint32(…, true): "0.00" and "0000".
const ZERO_DOT_ZERO_ZERO = 0x30302e30
const ZEROS4 = 0x30303030

// Digits are stored through a DataView, four at a time: setUint32 is one bounds check and one
// store, where typed-array byte stores cost that per byte (measured: 15 digits 2.5x faster).
// writeNumber15 and writeInt take a Uint8Array, so they keep a view of the last one they saw
// (compared by identity and length: a view over a resizable buffer can change length). That
// keeps one buffer reachable after its last use; JsonWriter has a view of its own.
let viewTarget: Uint8Array | null = null
let viewLength = -1
let view: DataView = new DataView(new ArrayBuffer(0))

function viewOf(buf: Uint8Array): DataView {
  if (buf !== viewTarget || buf.byteLength !== viewLength) {
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    viewTarget = buf
    viewLength = buf.byteLength
  }
  return view
}

// Output that might not fit goes here first, and is then copied if it does.
const SCRATCH = new Uint8Array(MAX_NUMBER_BYTES)
const SCRATCH_VIEW = new DataView(SCRATCH.buffer)

function copyOut(buf: Uint8Array, at: number, end: number): number {
  if (!(at >= 0 && at + end <= buf.length)) {
    throw new RangeError(`no room for ${end} bytes at ${at} of a ${buf.length}-byte buffer`)
  }
  for (let i = 0; i < end; i++) buf[at + i] = SCRATCH[i]
  return at + end
}

/**
 * Writes the finite number `x` as JSON at `buf[at]` and returns the position after it.
 *
 * The bytes equal `String(Number(x.toPrecision(15)))`: the exact binary value rounded to 15
 * significant digits (a tie rounds away from zero, as toPrecision does), then in JavaScript's
 * number-to-string form — positional for 1e-6 <= |x| < 1e21, otherwise `1.5e-7` / `1e+21`,
 * trailing zeros removed, `-0` as `0`. JSON has no form for NaN and ±Infinity: those are written
 * as `null`, and so are the few doubles next to ±Number.MAX_VALUE that rounding to 15 digits
 * carries past it (1.79769313486232e308 reads back as Infinity, where the definition above gives
 * `Infinity`, which is not JSON).
 *
 * With {@link MAX_NUMBER_BYTES} of room from `at`, bytes after the returned position up to that
 * room may be overwritten; with less, the number goes through a scratch buffer, and a RangeError
 * is thrown if it does not fit. For 1e-8 <= |x| < 1e15 it runs without allocating; other
 * magnitudes go through toPrecision.
 */
export function writeNumber15(buf: Uint8Array, at: number, x: number): number {
  if (at >= 0 && at + MAX_NUMBER_BYTES <= buf.length) return numberInto(viewOf(buf), at, x)
  return copyOut(buf, at, numberInto(SCRATCH_VIEW, 0, x))
}

/** {@link writeNumber15} into `dv`, which has MAX_NUMBER_BYTES of room from `at`. */
function numberInto(dv: DataView, at: number, x: number): number {
  const a = x < 0 ? -x : x
  // Also false for NaN, so that goes to the slow path with ±Infinity, 0, tiny and huge values.
  if (!(a >= 1e-8 && a < 1e15)) return numberSlow(dv, at, x)
  let p = at
  if (x < 0) dv.setUint8(p++, MINUS)
  // e = the decimal exponent of a's leading digit, so that a * 10^(14 - e) is in [1e14, 1e15):
  // the integer part then carries 15 digits, and 14 - e is in [0, 22], where 10^(14 - e) is
  // exact. From the binary exponent b (2^b <= a < 2^(b+1)) e is EXP10[b] or one more, since
  // log10 a lies in [b log10 2, (b + 1) log10 2), shorter than 1; one more when a reaches the
  // next power of ten. The comparison is added as a number rather than branched on: which way
  // it goes is data-dependent (as a branch it cost a third of the time on random data).
  F64[0] = a
  const i = (U32[HIGH_WORD] >>> 20) - EXP_INDEX_BASE
  let e = EXP10[i] + +(a >= NEXT_POW10[i])
  let scale = POW10[14 - e]
  let hi = a * scale
  // e is exact but where a is the double nearest to 10^-k and below it (for k = 6 and 7): then e
  // is -k, one too high, and hi = 1e14 exactly, which is accepted, as hi = 1e15 would be. Either
  // way |v - hi| <= ulp(hi) / 2 <= 1/16 for the exact product v, so rounding at this exponent
  // gives the same 15 digits as at the neighbouring one (1e14, or 1e15 -> the carry below):
  // ten times or a tenth of that distance is still far from 0.5. The two branches are a net that
  // no double in range takes (every power of ten and its neighbours are tested): hi > 1e15 would
  // mean v > 1e15 (1e15 is a double and rounding is monotonic), so e one more and v / 10 in
  // (1e14, 1e15); hi < 1e14 likewise; the true exponent of a is in [-8, 14], so 14 - e stays
  // in [0, 22].
  if (hi > 1e15) {
    e++
    scale = POW10[14 - e]
    hi = a * scale
  } else if (hi < 1e14) {
    e--
    scale = POW10[14 - e]
    hi = a * scale
  }
  // Round the exact product v = hi + lo to an integer, ties up. hi is in [1e14, 1e15], where
  // its ulp u is 1/64 .. 1/8, so f = hi - floor(hi) is exact and a multiple of u, as is 0.5,
  // and |lo| <= u / 2. When f != 0.5, |f - 0.5| >= u > |lo|: lo cannot move v across n + 0.5,
  // and f alone decides (again added, not branched on: a coin flip for full-precision values).
  // Only f === 0.5 needs the sign of lo: lo < 0 means v is just below the tie (round down),
  // lo = 0 is an exact tie (up, as toPrecision), lo > 0 is above (up).
  let n = Math.floor(hi)
  const f = hi - n
  n += +(f > 0.5)
  if (f === 0.5 && productError(a, scale, hi) >= 0) n++
  // 999999999999999.5 and up round to 1e15, which has 16 digits: it is 1e14 one exponent up.
  if (n === 1e15) {
    n = 1e14
    e++
  }
  // Two int32 halves, so that the digit code below does integer arithmetic on small integers
  // (n itself would be passed as a heap-allocated double). A multiplication, as a division is on
  // the critical path here, yet the truncation is exact: with n = 1e8 q + r, the double 1e-8 is
  // above 10^-8 by a relative 2.1e-17, so n * 1e-8 exceeds q + r / 1e8 by at most 2.1e-10 before
  // rounding and by at most 2.1e-10 + ulp(1e7) / 2 < 1.2e-9 after: below q + 1 for r <= 1e8 - 1.
  // For r = 0 the excess is below half an ulp of q, so the product rounds to q itself; for r > 0
  // the fraction is at least 1e-8, more than a rounding step down can take.
  const high = (n * 1e-8) | 0 // 7 digits, 1e6 <= high < 1e7
  return digitsInto(dv, p, high, (n - high * 1e8) | 0, e)
}

/**
 * lo = a * b - hi exactly, where hi = fl(a * b): Dekker's TwoProduct with Veltkamp's split (JS has
 * no fused multiply-add). Each half has at most 26 significant bits, so every partial product
 * below is exact, and so is each subtraction (Shewchuk's ordering); valid while nothing
 * overflows or underflows, which holds for the magnitudes {@link writeNumber15} sends here
 * (a >= 1e-8, b <= 1e22, product < 1.0000001e15).
 */
function productError(a: number, b: number, hi: number): number {
  let t = SPLITTER * a
  const ah = t - (t - a)
  const al = a - ah
  t = SPLITTER * b
  const bh = t - (t - b)
  const bl = b - bh
  return al * bl - (hi - ah * bh - al * bh - ah * bl)
}

/**
 * Writes n * 10^(e - 14) for the integer n = high * 1e8 + low in [1e14, 1e15) (high has 7 digits,
 * low 8 with leading zeros) in JavaScript's number form, trailing zeros removed; e in [-8, 15].
 *
 * The 15 digits are four little-endian words: h (3 digits and a spare byte) at offset 0, then r,
 * t, b (4 each) at 3, 7, 11. The spare byte is always overwritten by the next store; where bytes
 * are stored twice, the second store writes the byte they must end with.
 */
function digitsInto(dv: DataView, p: number, high: number, low: number, e: number): number {
  const head = (high / 1e4) | 0
  const h = digits3(head)
  const r = digits4(high - Math.imul(head, 10000))
  let t = ZEROS4
  let b = ZEROS4
  // k = significant digits left after removing trailing zeros, from the last word that is not
  // "0000": xor with "0000" leaves a zero byte for each '0', and the trailing ones are the top
  // bytes of the little-endian word, so clz32 / 8 counts them. (h's top byte is not a digit.)
  let k: number
  if (low !== 0) {
    const top = (low / 1e4) | 0
    t = digits4(top)
    b = digits4(low - Math.imul(top, 10000))
    k = b !== ZEROS4 ? 15 - (Math.clz32(b ^ ZEROS4) >> 3) : 11 - (Math.clz32(t ^ ZEROS4) >> 3)
  } else {
    k = r !== ZEROS4 ? 7 - (Math.clz32(r ^ ZEROS4) >> 3) : 4 - (Math.clz32(h ^ 0x303030) >> 3)
  }
  if (e < -6) return exponentForm(dv, p, high, low, e, k)
  // Where the row of digits goes, and where the number ends.
  let at: number
  let end: number
  if (e < 0) {
    // 0.000ddd: "0." and -e - 1 zeros (from a row of eight, the rest overwritten), the digits.
    dv.setUint32(p, ZERO_DOT_ZERO_ZERO, true)
    dv.setUint32(p + 4, ZEROS4, true)
    at = p + 1 - e
    end = at + k
  } else if (k <= e + 1 || e >= 14) {
    // An integer: the zeros of n up to the point are digits too.
    at = p
    end = p + e + 1
  } else {
    // A point after digit e: the row goes one byte to the right, where the fraction ends up.
    at = p + 1
    end = p + k + 1
  }
  dv.setUint32(at, h, true)
  dv.setUint32(at + 3, r, true)
  // The last eight digits are needed when significant, or as an integer's zeros.
  if (k > 7 || e > 6) {
    dv.setUint32(at + 7, t, true)
    dv.setUint32(at + 11, b, true)
  }
  if (at === p + 1) {
    // Then the integer digits again, one byte to the left: the words before the one that holds
    // the point as they are, that one as the first four bytes of it with the point inside (its
    // fifth byte, the rest of the word, is already in place from the row).
    const j = e + 1 // digits before the point, 1..14; k > j, so the word holding digit j is set
    let w = h
    let i = j
    let q = p
    if (j >= 3) {
      dv.setUint32(p, h, true)
      w = r
      i = j - 3
      q = p + 3
      if (j >= 7) {
        dv.setUint32(p + 3, r, true)
        w = t
        i = j - 7
        q = p + 7
        if (j >= 11) {
          dv.setUint32(p + 7, t, true)
          w = b
          i = j - 11
          q = p + 11
        }
      }
    }
    dv.setUint32(q, (w & MASKS[i]) | (DOT << (8 * i)) | ((w << 8) & ~MASKS[i + 1]), true)
  } else {
    // 1e15 (a carry) has 16 digits: the zero after the 15.
    if (e === 15) dv.setUint8(p + 15, ZERO)
  }
  return end
}

// MASKS[m] = the low m bytes of a word.
const MASKS = new Int32Array([0, 0xff, 0xffff, 0xffffff, -1])

/** Exponent form d.ddde-7 (e is -7 or -8): the digits one to the right, the first moved back. */
function exponentForm(dv: DataView, p: number, high: number, low: number, e: number, k: number): number {
  const head = (high / 1e4) | 0
  dv.setUint32(p + 1, digits3(head), true)
  dv.setUint32(p + 4, digits4(high - Math.imul(head, 10000)), true)
  if (k > 7) digits8(dv, p + 8, low)
  dv.setUint8(p, dv.getUint8(p + 1))
  if (k > 1) {
    dv.setUint8(p + 1, DOT)
    p += k + 1
  } else {
    p += 1
  }
  dv.setUint8(p, 0x65) // e
  dv.setUint8(p + 1, MINUS)
  dv.setUint8(p + 2, ZERO - e)
  return p + 3
}

/** The three ASCII digits of 100 <= v < 1000 as a little-endian word; its top byte is 0. */
function digits3(v: number): number {
  const q = Math.imul(v, 5243) >>> 19 // v / 100, exact below 43699
  const r = v - Math.imul(q, 100)
  const t = Math.imul(r, 103) >>> 10 // r / 10, exact below 179
  return 0x303030 | q | (t << 8) | ((r - Math.imul(t, 10)) << 16)
}

/** Exactly eight digits of 0 <= v < 1e8, leading zeros included. */
function digits8(dv: DataView, p: number, v: number): void {
  const top = (v / 1e4) | 0
  dv.setUint32(p, digits4(top), true)
  dv.setUint32(p + 4, digits4(v - Math.imul(top, 10000)), true)
}

/**
 * The four ASCII digits of 0 <= v < 10000 as a little-endian word, without division or table:
 * v = 100 q + r, then q and r side by side in the two 16-bit halves of x, each split into tens
 * and ones at once (x * 103 >> 10 is x / 10 for each half below 179; a half's low bits never
 * reach the other's four tens bits), then the tens and ones interleaved as bytes.
 */
function digits4(v: number): number {
  const q = Math.imul(v, 5243) >>> 19
  const x = q | ((v - Math.imul(q, 100)) << 16)
  const tens = (Math.imul(x, 103) >>> 10) & 0x000f000f
  return ZEROS4 | tens | ((x - Math.imul(tens, 10)) << 8)
}

/**
 * Everything outside the fast range, by the definition itself. Rounding to 15 digits can carry
 * past Number.MAX_VALUE, and Number() of that is Infinity: null, like the other non-finite values.
 * Subnormals have fewer than 15 reliable digits, so String() may shorten them (5e-324).
 */
function numberSlow(dv: DataView, at: number, x: number): number {
  if (x === 0) {
    dv.setUint8(at, ZERO) // also -0
    return at + 1
  }
  const y = Number.isFinite(x) ? Number(x.toPrecision(15)) : x
  if (!Number.isFinite(y)) return nullInto(dv, at)
  const s = String(y)
  for (let i = 0; i < s.length; i++) dv.setUint8(at + i, s.charCodeAt(i))
  return at + s.length
}

function nullInto(dv: DataView, at: number): number {
  dv.setUint32(at, 0x6c6c756e, true) // null
  return at + 4
}

/**
 * Writes the safe integer `n` (negative allowed, `-0` as `0`) at `buf[at]`, exactly as String(n),
 * and returns the position after it. Anything that is not a safe integer is written as by
 * {@link writeNumber15}, so the output is always JSON. Room and scratch bytes as there, with
 * {@link MAX_INT_BYTES}.
 */
export function writeInt(buf: Uint8Array, at: number, n: number): number {
  if (at >= 0 && at + MAX_INT_BYTES <= buf.length) return intInto(viewOf(buf), at, n)
  return copyOut(buf, at, intInto(SCRATCH_VIEW, 0, n))
}

function intInto(dv: DataView, at: number, n: number): number {
  if (!Number.isSafeInteger(n)) return numberInto(dv, at, n)
  let p = at
  let v = n
  if (v < 0) {
    dv.setUint8(p++, MINUS)
    v = -v
  }
  if (v < 1e8) return smallInto(dv, p, v)
  // Up to 2^53 - 1: a head below 1e8 (the floor is exact, as in digitsInto), then eight digits.
  const head = Math.floor(v / 1e8)
  p = smallInto(dv, p, head)
  digits8(dv, p, v - head * 1e8)
  return p + 8
}

/** 0 <= v < 1e8 without leading zeros; may write up to three bytes past its end. */
function smallInto(dv: DataView, p: number, v: number): number {
  if (v < 1e4) {
    const len = v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : 4
    // The leading zeros of the four digits shifted out: the first byte is the first digit.
    dv.setUint32(p, digits4(v) >>> (32 - 8 * len), true)
    return p + len
  }
  const top = (v / 1e4) | 0
  const len = top < 100 ? (top < 10 ? 1 : 2) : top < 1000 ? 3 : 4
  dv.setUint32(p, digits4(top) >>> (32 - 8 * len), true)
  dv.setUint32(p + len, digits4(v - Math.imul(top, 10000)), true)
  return p + len + 4
}

// Hex digits of JSON's \u escapes, lowercase like JSON.stringify.
const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102])

/**
 * A constant piece of a record (`,"price":`), encoded once as UTF-8 and packed into 32-bit
 * words, which {@link JsonWriter.literal} stores four bytes at a time: about twice as fast as
 * copying the bytes one by one, and constant pieces are over a third of a `volatility` record.
 */
export class JsonLiteral {
  /** The UTF-8 bytes. */
  readonly bytes: Buffer
  /** The bytes as little-endian words, zero-padded to a multiple of four. */
  readonly words: Int32Array

  /** @param text the piece as it is to appear: not escaped or quoted here */
  constructor(text: string) {
    this.bytes = Buffer.from(text, 'utf8')
    const b = this.bytes
    this.words = new Int32Array(Math.ceil(b.length / 4))
    // Packed by hand rather than by aliasing the bytes, so the order is right on any platform.
    for (let i = 0; i < b.length; i++) this.words[i >> 2] |= b[i] << (8 * (i & 3))
  }
}

/**
 * One JSON record at a time, built in a reusable buffer that grows by doubling (its bytes are
 * kept), so steady-state writing allocates nothing. Typical use: `reset()`, the pieces in order,
 * then hand `view()` to a producer that copies it, before the next `reset()`.
 *
 * The methods write exactly what they are given: the caller places the commas, colons and
 * braces, preferably as constants made once ({@link JsonLiteral}, {@link JsonWriter.literal}).
 */
export class JsonWriter {
  private buf: Buffer
  // The same bytes, for the four-byte stores of numbers and literals.
  private dv: DataView
  // buf.length, kept in a field: the room checks are the most frequent operation.
  private cap: number
  private pos = 0

  /** @param initialCapacity bytes to start with (at least 32); doubled whenever a write needs more */
  constructor(initialCapacity = 1024) {
    this.cap = Math.max(32, Math.ceil(initialCapacity))
    this.buf = Buffer.allocUnsafeSlow(this.cap)
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.cap)
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.pos
  }

  /** Current buffer size: grows, never shrinks. */
  get capacity(): number {
    return this.cap
  }

  /** Starts a new record; the buffer is kept for reuse, invalidating earlier views. */
  reset(): void {
    this.pos = 0
  }

  /**
   * The bytes written since the last reset, as a view of the internal buffer: valid until the
   * next reset or write (a write may move the buffer). Use {@link JsonWriter.copy} to keep them.
   */
  view(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  /** The bytes written since the last reset, in a new Buffer of their own. */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos))
  }

  /** Pre-encoded bytes as they are; for constants such as `{"ts":"`, {@link JsonWriter.literal} is faster. */
  raw(bytes: Uint8Array): void {
    this.bytes(bytes, 0, bytes.length)
  }

  /** A constant piece, as {@link JsonWriter.raw} of its bytes but faster. */
  literal(lit: JsonLiteral): void {
    const words = lit.words
    // Whole words are stored, so the last may write up to three bytes past the piece.
    if (this.pos + 4 * words.length > this.cap) this.grow(4 * words.length)
    const dv = this.dv
    const p = this.pos
    for (let i = 0; i < words.length; i++) dv.setInt32(p + 4 * i, words[i], true)
    this.pos = p + lit.bytes.length
  }

  /** `src[start..end)` as it is, e.g. a field copied from the input record. */
  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start
    if (this.pos + n > this.cap) this.grow(n)
    const buf = this.buf
    let p = this.pos
    // Up to 64 bytes a loop beats subarray() + set() (measured: 16 vs 31 ns for a 23-byte ts).
    if (n <= 64) for (let i = start; i < end; i++) buf[p++] = src[i]
    else {
      buf.set(src.subarray(start, end), p)
      p += n
    }
    this.pos = p
  }

  /** A short pure-ASCII string as it is (not checked: each UTF-16 unit is stored as one byte). */
  ascii(s: string): void {
    const n = s.length
    if (this.pos + n > this.cap) this.grow(n)
    const buf = this.buf
    const p = this.pos
    for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i)
    this.pos = p + n
  }

  /**
   * `s` as a JSON string literal, quotes included: the UTF-8 bytes of JSON.stringify(s), so
   * control characters as `\n` or `\u001f`, lone surrogates as `\udc00`, everything else raw.
   */
  string(s: string): void {
    const n = s.length
    // 6 bytes per UTF-16 unit is the worst case (\u001f, or a lone surrogate), plus the quotes.
    if (this.pos + 6 * n + 2 > this.cap) this.grow(6 * n + 2)
    const buf = this.buf
    let p = this.pos
    buf[p++] = 0x22
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x80 && c >= 0x20 && c !== 0x22 && c !== 0x5c) buf[p++] = c
      else {
        this.pos = p
        this.stringTail(s, i)
        return
      }
    }
    buf[p++] = 0x22
    this.pos = p
  }

  // The rest of string() from the first unit that is not plain ASCII: escapes and UTF-8, by hand.
  private stringTail(s: string, from: number): void {
    const buf = this.buf
    let p = this.pos
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x80) {
        if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
          buf[p++] = c
          continue
        }
        buf[p++] = 0x5c
        const short = c === 0x22 ? 0x22 : c === 0x5c ? 0x5c : shortEscape(c)
        if (short !== 0) buf[p++] = short
        else p = unicodeEscape(buf, p, c)
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6)
        buf[p++] = 0x80 | (c & 0x3f)
      } else if (c < 0xd800 || c > 0xdfff) {
        buf[p++] = 0xe0 | (c >> 12)
        buf[p++] = 0x80 | ((c >> 6) & 0x3f)
        buf[p++] = 0x80 | (c & 0x3f)
      } else {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          // A surrogate pair: one code point of four UTF-8 bytes.
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
          buf[p++] = 0xf0 | (cp >> 18)
          buf[p++] = 0x80 | ((cp >> 12) & 0x3f)
          buf[p++] = 0x80 | ((cp >> 6) & 0x3f)
          buf[p++] = 0x80 | (cp & 0x3f)
          i++
        } else {
          // A lone surrogate has no UTF-8 form: JSON.stringify escapes it.
          buf[p++] = 0x5c
          p = unicodeEscape(buf, p, c)
        }
      }
    }
    buf[p++] = 0x22
    this.pos = p
  }

  /** A number with 15 significant digits, as {@link writeNumber15}; NaN and ±Infinity as `null`. */
  number(x: number): void {
    if (this.pos + MAX_NUMBER_BYTES > this.cap) this.grow(MAX_NUMBER_BYTES)
    this.pos = numberInto(this.dv, this.pos, x)
  }

  /** A safe integer, as {@link writeInt}. */
  int(n: number): void {
    if (this.pos + MAX_INT_BYTES > this.cap) this.grow(MAX_INT_BYTES)
    this.pos = intInto(this.dv, this.pos, n)
  }

  /** `true` or `false`. */
  bool(b: boolean): void {
    if (this.pos + 8 > this.cap) this.grow(8)
    if (b) {
      this.dv.setUint32(this.pos, 0x65757274, true) // true
      this.pos += 4
    } else {
      this.dv.setUint32(this.pos, 0x736c6166, true) // fals
      this.dv.setUint8(this.pos + 4, 0x65) // e
      this.pos += 5
    }
  }

  /** `null`. */
  null(): void {
    if (this.pos + 4 > this.cap) this.grow(4)
    this.pos = nullInto(this.dv, this.pos)
  }

  // Room for `more` bytes after pos: doubles (amortised O(1) per byte) and keeps what is written.
  private grow(more: number): void {
    let size = this.cap * 2
    while (size < this.pos + more) size *= 2
    const next = Buffer.allocUnsafeSlow(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
    this.dv = new DataView(next.buffer, next.byteOffset, size)
    this.cap = size
  }
}

// \b \t \n \f \r as their letter; 0 for the control characters JSON.stringify writes as \u00XX.
function shortEscape(c: number): number {
  switch (c) {
    case 0x08:
      return 98 // b
    case 0x09:
      return 116 // t
    case 0x0a:
      return 110 // n
    case 0x0c:
      return 102 // f
    case 0x0d:
      return 114 // r
    default:
      return 0
  }
}

// uXXXX after the backslash (already written).
function unicodeEscape(buf: Uint8Array, p: number, c: number): number {
  buf[p] = 117 // u
  buf[p + 1] = HEX[(c >> 12) & 15]
  buf[p + 2] = HEX[(c >> 8) & 15]
  buf[p + 3] = HEX[(c >> 4) & 15]
  buf[p + 4] = HEX[c & 15]
  return p + 5
}
