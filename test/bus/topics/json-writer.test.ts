import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  JsonLiteral,
  JsonWriter,
  MAX_NUMBER_BYTES,
  writeInt,
  writeNumber15,
} from '../../../src/bus/topics/json-writer.ts'

/**
 * The specification: `String(Number(x.toPrecision(15)))`, except that what is not JSON is `null`
 * (NaN, ±Infinity, and the doubles next to ±MAX_VALUE whose rounding overflows to Infinity).
 */
function reference(x: number): string {
  if (!Number.isFinite(x)) return 'null'
  const s = String(Number(x.toPrecision(15)))
  return s === 'Infinity' || s === '-Infinity' ? 'null' : s
}

const out = Buffer.alloc(64)

/** writeNumber15 at a varying offset, checking it leaves the bytes before it alone. */
function written(x: number, at = 3): string {
  out.fill(0x7e)
  const end = writeNumber15(out, at, x)
  for (let i = 0; i < at; i++) assert.equal(out[i], 0x7e, `byte ${i} before the number was overwritten`)
  return out.toString('latin1', at, end)
}

let checked = 0
let failures: string[] = []

function check(x: number): void {
  checked++
  const got = written(x, checked % 7)
  const want = reference(x)
  if (got !== want && failures.length < 20) failures.push(`${x} (${bitsOf(x)}): wrote ${got}, want ${want}`)
}

function assertNoFailures(what: string): void {
  const f = failures
  failures = []
  assert.deepEqual(f, [], what)
}

/** Both signs. */
function checkBoth(x: number): void {
  check(x)
  check(-x)
}

// Bit-level access to doubles.
const dv = new DataView(new ArrayBuffer(8))

function fromBits(hi: number, lo: number): number {
  dv.setUint32(0, hi >>> 0)
  dv.setUint32(4, lo >>> 0)
  return dv.getFloat64(0)
}

function bitsOf(x: number): string {
  dv.setFloat64(0, x)
  return '0x' + dv.getBigUint64(0).toString(16).padStart(16, '0')
}

/** The next double towards +Infinity (for finite x). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE
  dv.setFloat64(0, x)
  const bits = dv.getBigUint64(0)
  dv.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n)
  return dv.getFloat64(0)
}

function nextDown(x: number): number {
  return -nextUp(-x)
}

/** A seeded xorshift source of uint32s, and uniform [0, 1) from it. */
function rng(seed: number): { u32: () => number; unit: () => number } {
  let s = seed >>> 0 || 1
  const u32 = (): number => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return s >>> 0
  }
  return { u32, unit: () => (u32() * 2 ** 21 + (u32() >>> 11)) / 2 ** 53 }
}

/** x = m * 2^e exactly, m a BigInt (for finite, nonzero, positive x). */
function exact(x: number): { m: bigint; e: number } {
  dv.setFloat64(0, x)
  const bits = dv.getBigUint64(0)
  const biased = Number((bits >> 52n) & 0x7ffn)
  const frac = bits & ((1n << 52n) - 1n)
  return biased === 0 ? { m: frac, e: -1074 } : { m: frac | (1n << 52n), e: biased - 1075 }
}

/** The sign of a * 10^s - b exactly, for positive doubles a, b and s >= 0. */
function signOfScaledMinus(a: number, s: number, b: number): number {
  const x = exact(a)
  const y = exact(b)
  let l = x.m * 10n ** BigInt(s)
  let r = y.m
  // Bring both to the smaller binary exponent.
  if (x.e > y.e) l <<= BigInt(x.e - y.e)
  else r <<= BigInt(y.e - x.e)
  return l > r ? 1 : l < r ? -1 : 0
}

test('writeNumber15 follows the reference on fixed cases', () => {
  const cases: [number, string][] = [
    [238.32, '238.32'],
    [0.1 + 0.2, '0.3'],
    [238.324156234512, '238.324156234512'],
    [-1.23456789012345, '-1.23456789012345'],
    [0.00123456789012345, '0.00123456789012345'],
    [100, '100'],
    [0, '0'],
    [-0, '0'],
    [1e-6, '0.000001'],
    [1e-7, '1e-7'],
    [1.5e-7, '1.5e-7'],
    [1e-8, '1e-8'],
    [1.2345e-8, '1.2345e-8'],
    [9.999999999999995e-5, '0.0001'],
    [999999999999999.9, '1000000000000000'],
    [999999999999999.4, '999999999999999'],
    [100000000000000.5, '100000000000001'],
    [-100000000000000.5, '-100000000000001'],
    [12345678901234.25, '12345678901234.3'],
    [1e15, '1000000000000000'],
    [2 ** 53, '9007199254740990'],
    [1e21, '1e+21'],
    [9.999999999999996e20, '1e+21'],
    [9.999999999999995e20, '999999999999999000000'], // the double is below the decimal
    [123456789012345680000, '123456789012346000000'],
    [5e-324, '5e-324'],
    [Number.MAX_VALUE, 'null'],
    [-Number.MAX_VALUE, 'null'],
    [NaN, 'null'],
    [Infinity, 'null'],
    [-Infinity, 'null'],
  ]
  for (const [x, want] of cases) {
    assert.equal(written(x), want, String(x))
    assert.equal(written(x), reference(x), String(x))
  }
  // The one place where JSON differs from the literal definition: rounding past MAX_VALUE.
  assert.equal(String(Number(Number.MAX_VALUE.toPrecision(15))), 'Infinity')
  assert.equal(written(nextDown(Number.MAX_VALUE)), 'null')
  assert.equal(written(1.797693134862315e308), '1.79769313486231e+308')
})

test('writeNumber15 equals the reference on millions of random doubles', () => {
  const r = rng(20240102)
  // Random bit patterns: every exponent, including subnormals, both signs (NaN and Infinity too).
  for (let i = 0; i < 1_500_000; i++) check(fromBits(r.u32(), r.u32()))
  assertNoFailures('random bit patterns')
  // Log-uniform over the fast range [1e-8, 1e15), full precision.
  for (let i = 0; i < 1_000_000; i++) {
    const x = 10 ** (-8 + 23 * r.unit()) * (1 + r.unit() * 1e-3)
    if (x < 1e15) checkBoth(x)
  }
  assertNoFailures('random values in [1e-8, 1e15)')
  // Prices with two decimals, and analytics-like values.
  for (let i = 0; i < 500_000; i++) {
    check(Math.round((1 + r.unit() * 99_999) * 100) / 100)
    check(100 + r.unit() * 400)
    check(r.unit() * 2e-3)
    check((r.unit() - 0.5) * 6)
  }
  assertNoFailures('prices and analytics values')
})

test('writeNumber15 at powers of ten, their neighbours and values just below them', () => {
  for (let k = -323; k <= 308; k++) {
    const p = Number(`1e${k}`)
    let up = p
    let down = p
    checkBoth(p)
    for (let j = 0; j < 4; j++) {
      up = nextUp(up)
      down = nextDown(down)
      checkBoth(up)
      checkBoth(down)
    }
    // 10^k (1 - j 1e-16): some round up to 10^k at 15 digits, some stay below.
    for (let j = 1; j <= 60; j++) checkBoth(p * (1 - j * 1e-16))
    // 9.99999999999999|5 * 10^(k-1) as a decimal, and its neighbours.
    const nines = Number(`9.999999999999995e${k - 1}`)
    checkBoth(nines)
    checkBoth(nextUp(nines))
    checkBoth(nextDown(nines))
  }
  assertNoFailures('powers of ten')
  // The doubles nearest to these decimals (strings: most are not exact).
  for (const d of ['9.999999999999995e-5', '999999999999999.9', '99999999999999.99', '9.999999999999999e-7']) {
    checkBoth(Number(d))
  }
  // The positional/exponent boundaries of number-to-string.
  const boundaries = ['1e21', '1e-6', '1e-7', '9.999999999999995e-7', '9.999999999999995e-8', '9.999999999999995e20']
  for (const x of boundaries.map(Number)) {
    for (let j = 0, y = x, z = x; j < 50; j++, y = nextUp(y), z = nextDown(z)) {
      checkBoth(y)
      checkBoth(z)
    }
  }
  assertNoFailures('boundaries')
  assert.equal(written(nextDown(1e-6)), '0.000001')
  assert.equal(written(nextDown(1e21)), '1e+21')
  assert.equal(written(nextDown(1e-7)), '1e-7')
})

test('writeNumber15 on exact ties at the 16th digit: they round away from zero', (t) => {
  const r = rng(7)
  let ties = 0
  // An odd m / 2^j in [10^(15-j), 10^(16-j)) has 16 significant digits, the last a 5 with
  // nothing after it (j = 1: integers + 0.5 in [1e14, 1e15)). For j = 22 the only such m are 1
  // and 3 (x about 2.4e-7 and 7.2e-7); beyond, there are none.
  for (let j = 1; j <= 22; j++) {
    const min = Math.ceil(10 ** (15 - j) * 2 ** j) // the m in [min, max) qualify
    const max = Math.ceil(10 ** (16 - j) * 2 ** j)
    for (let i = 0; i < 2000; i++) {
      let m = min + Math.floor(r.unit() * (max - min))
      if (m % 2 === 0) m = m + 1 < max ? m + 1 : m - 1
      const x = m / 2 ** j
      // Checks the construction: 16 digits ending in 5, i.e. an exact tie at 15.
      const digits = BigInt(m) * 5n ** BigInt(j)
      assert.equal(digits.toString().replace(/0+$/, '').length, 16)
      assert.equal(digits % 10n, 5n)
      checkBoth(x)
      ties++
    }
  }
  assertNoFailures('exact ties')
  // Integer ties: 1000000000000005 / 10^k when exact.
  for (let k = 1; k <= 8; k++) {
    for (let i = 0; i < 1000; i++) {
      const n = 1e15 + 10 * Math.floor(r.unit() * 9e14) + 5
      const x = n / 10 ** k
      if (signOfScaledMinus(x, k, n) === 0) {
        checkBoth(x)
        ties++
      }
    }
  }
  assertNoFailures('integer ties')
  t.diagnostic(`${ties} exact ties (both signs checked)`)
  assert.ok(ties > 40_000, `${ties} ties`)
  assert.equal(written(1000000000000005 / 10), '100000000000001')
  assert.equal(written(0.5), '0.5')
})

test('writeNumber15 near ties: the low part of the exact product decides, not hi alone', (t) => {
  const r = rng(11)
  let below = 0
  let above = 0
  let exactTies = 0
  for (let i = 0; i < 200_000; i++) {
    // The double nearest to the 16-digit decimal d5 * 10^k, d a 15-digit integer: it lies a
    // hair below or above the tie, and a * 10^(-k-1) usually rounds to exactly d + 0.5.
    const d = 1e14 + Math.floor(r.unit() * 9e14)
    const k = -1 - Math.floor(r.unit() * 23) // the scale 10^(-k-1) is exact
    const x = Number(`${d}5e${k}`)
    checkBoth(x)
    const hi = x * 10 ** (-k - 1)
    if (hi - Math.floor(hi) !== 0.5) continue
    const lo = signOfScaledMinus(x, -k - 1, hi)
    // The digits toPrecision chose, as an integer of 15 digits.
    const mantissa = Number(x.toPrecision(15).replace(/e.*$/, '').replace('.', ''))
    if (lo < 0) {
      below++
      // Math.round(hi) would round up here and be wrong.
      assert.equal(mantissa, Math.floor(hi), `${x}`)
      assert.notEqual(mantissa, Math.round(hi), `${x}`)
    } else {
      if (lo > 0) above++
      else exactTies++
      assert.equal(mantissa, Math.floor(hi) + 1, `${x}`)
    }
  }
  assertNoFailures('near ties')
  t.diagnostic(`hi = n + 0.5 with lo < 0: ${below}, lo > 0: ${above}, lo = 0: ${exactTies}`)
  assert.ok(below > 1000, `only ${below} cases with hi = n + 0.5 and lo < 0`)
  assert.ok(above > 1000, `only ${above} cases with hi = n + 0.5 and lo > 0`)
})

test('writeNumber15 on subnormals, integers, and extremes', () => {
  const r = rng(3)
  for (let i = 0; i < 100_000; i++) checkBoth(fromBits(r.u32() & 0xfffff, r.u32())) // subnormals
  for (const x of [Number.MIN_VALUE, 2.2250738585072014e-308, Number.MAX_VALUE, Number.EPSILON]) {
    for (let j = 0, y = x, z = x; j < 20; j++, y = nextUp(y), z = nextDown(z)) {
      checkBoth(y)
      if (z > 0) checkBoth(z)
    }
  }
  // Integers of every length up to 2^53, and past it.
  for (let digits = 1; digits <= 22; digits++) {
    for (let i = 0; i < 2000; i++) checkBoth(Math.floor(10 ** (digits - 1) * (1 + 9 * r.unit())))
  }
  for (const x of [2 ** 53, 2 ** 53 - 1, 2 ** 53 + 2, 2 ** 52, 2 ** 31, 2 ** 32, 1e15 - 1, 1e15 + 1, 1e16]) {
    checkBoth(x)
  }
  assertNoFailures('subnormals, integers, extremes')
})

test('writeNumber15 with little room: exact output through the scratch buffer, or a RangeError', () => {
  for (const x of [238.32, -1.23456789012345e-7, 0, 5e-324, NaN]) {
    const s = reference(x)
    const tight = new Uint8Array(s.length + 2)
    assert.equal(writeNumber15(tight, 2, x), s.length + 2)
    assert.equal(Buffer.from(tight.subarray(2)).toString('latin1'), s)
    assert.throws(() => writeNumber15(new Uint8Array(s.length + 1), 2, x), RangeError)
  }
  // Plain Uint8Arrays and pooled Buffers with a byte offset, alternating (the cached view).
  const a = new Uint8Array(40)
  const b = Buffer.from('x'.repeat(40))
  assert.ok(b.byteOffset > 0 || b.buffer.byteLength === 40)
  for (let i = 0; i < 100; i++) {
    const x = 1 / (i + 3)
    assert.equal(Buffer.from(a.subarray(1, writeNumber15(a, 1, x))).toString('latin1'), reference(x))
    assert.equal(b.toString('latin1', 5, writeNumber15(b, 5, -x)), reference(-x))
  }
  assert.ok(MAX_NUMBER_BYTES >= 23)
})

test('writeInt equals String(n) for safe integers', () => {
  const r = rng(5)
  const buf = Buffer.alloc(40)
  const int = (n: number): string => buf.toString('latin1', 2, writeInt(buf, 2, n))
  const edges = [0, -0, 1, -1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)]
  for (let k = 1; k <= 15; k++) edges.push(10 ** k, 10 ** k - 1, 10 ** k + 1, -(10 ** k))
  for (const n of edges) assert.equal(int(n), String(n), String(n))
  for (let i = 0; i < 300_000; i++) {
    const digits = 1 + (i % 16)
    const n = Math.floor(10 ** (digits - 1) * (1 + 9 * r.unit()))
    const v = Number.isSafeInteger(n) ? n : 2 ** 53 - 1 - i
    assert.equal(int(v), String(v))
    assert.equal(int(-v), String(-v))
  }
  // Not a safe integer: as writeNumber15, so still JSON.
  for (const n of [2 ** 53, 1e20, 1.5, NaN, -Infinity]) assert.equal(int(n), reference(n), String(n))
  assert.throws(() => writeInt(new Uint8Array(3), 0, 12345), RangeError)
})

// A volatility record, as the analyze processor writes it.
interface Vol {
  ts: string
  symbol: string
  price: number
  ema: number
  sma: number | null
  volatility: number | null
  priceStd: number | null
  zscore: number | null
  outlier: boolean
  window: number
  count: number
}

const num15 = (x: number | null): string => (x === null ? 'null' : reference(x))

function templateRecord(v: Vol): string {
  return (
    `{"ts":"${v.ts}","symbol":${JSON.stringify(v.symbol)},"price":${num15(v.price)},"ema":${num15(v.ema)},` +
    `"sma":${num15(v.sma)},"volatility":${num15(v.volatility)},"price_std":${num15(v.priceStd)},` +
    `"zscore":${num15(v.zscore)},"outlier":${v.outlier},"window":${v.window},"count":${v.count}}`
  )
}

const L = {
  ts: new JsonLiteral('{"ts":"'),
  symbol: Buffer.from('","symbol":'),
  price: new JsonLiteral(',"price":'),
  ema: new JsonLiteral(',"ema":'),
  sma: new JsonLiteral(',"sma":'),
  volatility: new JsonLiteral(',"volatility":'),
  priceStd: new JsonLiteral(',"price_std":'),
  zscore: new JsonLiteral(',"zscore":'),
  outlier: new JsonLiteral(',"outlier":'),
  window: new JsonLiteral(',"window":'),
  count: new JsonLiteral(',"count":'),
  end: new JsonLiteral('}'),
}

function writeRecord(w: JsonWriter, v: Vol, tsSource: Buffer): void {
  const orNull = (x: number | null): void => (x === null ? w.null() : w.number(x))
  w.reset()
  w.literal(L.ts)
  w.bytes(tsSource, 7, 7 + v.ts.length) // copied out of an input record
  w.raw(L.symbol)
  w.string(v.symbol)
  w.literal(L.price)
  w.number(v.price)
  w.literal(L.ema)
  w.number(v.ema)
  w.literal(L.sma)
  orNull(v.sma)
  w.literal(L.volatility)
  orNull(v.volatility)
  w.literal(L.priceStd)
  orNull(v.priceStd)
  w.literal(L.zscore)
  orNull(v.zscore)
  w.literal(L.outlier)
  w.bool(v.outlier)
  w.literal(L.window)
  w.int(v.window)
  w.literal(L.count)
  w.int(v.count)
  w.literal(L.end)
}

test('JsonWriter records equal the template-string version byte for byte, and parse back', () => {
  const r = rng(9)
  const w = new JsonWriter(64)
  const symbols = ['AAPL', 'BTC-USD', 'ä"\\x', 'Ω\n', '😀']
  for (let i = 0; i < 20_000; i++) {
    const price = Math.round((100 + r.unit() * 400) * 100) / 100
    const early = i % 10 === 0
    const v: Vol = {
      ts: `2024-01-02 09:${String(i % 60).padStart(2, '0')}:00.${String(i % 1000).padStart(3, '0')}`,
      symbol: symbols[i % symbols.length],
      price,
      ema: price + (r.unit() - 0.5),
      sma: early ? null : price + (r.unit() - 0.5),
      volatility: early ? null : r.unit() * 2e-3,
      priceStd: early ? null : r.unit() * 2,
      zscore: early ? null : (r.unit() - 0.5) * 6,
      outlier: r.unit() < 0.01,
      window: 100,
      count: i + 1,
    }
    const input = Buffer.from(`{"ts":"${v.ts}","symbol":"X","price":1}`)
    writeRecord(w, v, input)
    const want = templateRecord(v)
    assert.equal(w.view().toString('utf8'), want)
    assert.ok(w.view().equals(Buffer.from(want)))
    assert.equal(w.length, Buffer.byteLength(want))
    const round = (x: number | null): number | null => (x === null ? null : Number(x.toPrecision(15)))
    assert.deepEqual(JSON.parse(w.view().toString('utf8')), {
      ts: v.ts,
      symbol: v.symbol,
      price: v.price,
      ema: round(v.ema),
      sma: round(v.sma),
      volatility: round(v.volatility),
      price_std: round(v.priceStd),
      zscore: round(v.zscore),
      outlier: v.outlier,
      window: 100,
      count: i + 1,
    })
  }
})

/** Random strings over an alphabet that needs every kind of escape and encoding. */
function randomString(r: ReturnType<typeof rng>): string {
  const pieces = [
    'a',
    'Z',
    ' ',
    '"',
    '\\',
    '/',
    '\b',
    '\f',
    '\n',
    '\r',
    '\t',
    '\u0000',
    '\u001f',
    '\u007f',
    'é',
    'ü',
    '€',
    '中',
    '\u2028',
    '\u2029',
    '\uffff',
    '😀',
    '𝄞',
    '\ud800',
    '\udbff',
    '\udc00',
    '\udfff',
    '\udc00\ud800',
  ]
  const n = r.u32() % 24
  let s = ''
  for (let i = 0; i < n; i++) {
    s += r.unit() < 0.3 ? String.fromCharCode(r.u32() % 0x10000) : pieces[r.u32() % pieces.length]
  }
  return s
}

test('JsonWriter.string equals the UTF-8 of JSON.stringify, escapes and surrogates included', () => {
  const r = rng(13)
  const w = new JsonWriter(16)
  const fixed = ['', 'plain', 'a"b', 'a\\b', '\u0001\u001f', 'x\ud800', '\udfffx', '😀', 'ß', '\ud83d', '\ude00']
  for (let i = 0; i < 50_000; i++) {
    const s = i < fixed.length ? fixed[i] : randomString(r)
    w.reset()
    w.string(s)
    const want = Buffer.from(JSON.stringify(s))
    assert.ok(w.view().equals(want), `${JSON.stringify(s)}: ${w.view().toString('hex')} != ${want.toString('hex')}`)
  }
  // Every BMP code unit on its own.
  for (let c = 0; c < 0x10000; c++) {
    const s = 'a' + String.fromCharCode(c) + 'b'
    w.reset()
    w.string(s)
    assert.ok(w.view().equals(Buffer.from(JSON.stringify(s))), `U+${c.toString(16)}`)
  }
})

test('JsonWriter grows from a tiny buffer without losing bytes, and reuses it after reset', () => {
  const r = rng(17)
  const w = new JsonWriter(1)
  const startCapacity = w.capacity
  const expected: Buffer[] = []
  const big = Buffer.from('0123456789abcdef'.repeat(20))
  for (let i = 0; i < 3000; i++) {
    const kind = i % 9
    if (kind === 0) {
      const s = randomString(r)
      w.string(s)
      expected.push(Buffer.from(JSON.stringify(s)))
    } else if (kind === 1) {
      const x = (r.unit() - 0.5) * 10 ** ((r.u32() % 40) - 20)
      w.number(x)
      expected.push(Buffer.from(reference(x)))
    } else if (kind === 2) {
      const n = Math.floor((r.unit() - 0.5) * 2 ** 53)
      w.int(n)
      expected.push(Buffer.from(String(n)))
    } else if (kind === 3) {
      const a = r.u32() % big.length
      const b = a + (r.u32() % (big.length - a))
      w.bytes(big, a, b) // both the loop and the set() path
      expected.push(big.subarray(a, b))
    } else if (kind === 4) {
      w.raw(big)
      expected.push(big)
    } else if (kind === 5) {
      w.ascii(',"k":')
      expected.push(Buffer.from(',"k":'))
    } else if (kind === 6) {
      w.bool(i % 2 === 0)
      expected.push(Buffer.from(String(i % 2 === 0)))
    } else if (kind === 7) {
      w.null()
      expected.push(Buffer.from('null'))
    } else {
      const lit = new JsonLiteral(`,"f${i}":`)
      w.literal(lit)
      expected.push(lit.bytes)
    }
  }
  const all = Buffer.concat(expected)
  assert.equal(w.length, all.length)
  assert.ok(w.view().equals(all))
  assert.ok(w.copy().equals(all))
  assert.ok(w.capacity >= all.length)
  // Doubling: the capacity is the initial one times a power of two.
  assert.equal(Math.log2(w.capacity / startCapacity) % 1, 0)
  const copy = w.copy()
  const capacity = w.capacity
  w.reset()
  assert.equal(w.length, 0)
  assert.equal(w.view().length, 0)
  w.ascii('{}')
  assert.equal(w.view().toString(), '{}')
  assert.equal(w.capacity, capacity) // kept for reuse
  assert.ok(copy.equals(all)) // copies are independent of the buffer
})

test('writeNumber15 was compared with the reference on millions of doubles', (t) => {
  // Runs after the tests above (one file runs its tests in order).
  t.diagnostic(`${checked} doubles compared with the reference`)
  assert.ok(checked > 5_000_000, `${checked}`)
})
