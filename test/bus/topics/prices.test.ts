import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../../src/errors.ts'
import { formatPriceTs, parsePriceTs } from '../../../src/bus/time.ts'
import { encodePriceTick, pricesTopic, scanPrice } from '../../../src/bus/topics/index.ts'
import type { PriceScan, PriceTick } from '../../../src/bus/topics/index.ts'
import { createPriceGenerator } from '../../../src/feeds/synthetic-prices.ts'
import type { PriceGeneratorOptions } from '../../../src/feeds/synthetic-prices.ts'

const T0 = Date.UTC(2021, 2, 10, 16, 21, 32)
const TS = '2021-03-10 16:21:32.000'

function take(options: Partial<PriceGeneratorOptions>, n: number): PriceTick[] {
  let t = T0 - 7
  const gen = createPriceGenerator({ seed: 1, clock: () => (t += 7), ...options })
  return Array.from({ length: n }, () => gen.next())
}

/** A seeded uniform [0, 1) source. */
function lcg(seed: number): () => number {
  let x = seed
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32
}

test('encodePriceTick writes the exact wire form, and JSON.parse reads the same values back', () => {
  assert.equal(
    encodePriceTick({ ts: '2021-03-10 16:21:32.000', symbol: 'AAPL', price: 238.3 }),
    '{"ts":"2021-03-10 16:21:32.000","symbol":"AAPL","price":238.30}',
  )
  assert.equal(
    encodePriceTick({ ts: 'x', symbol: 'BTC-USD', price: 60000 }),
    '{"ts":"x","symbol":"BTC-USD","price":60000.00}',
  )
  assert.equal(encodePriceTick({ ts: 'x', symbol: 'P', price: 0.01 }), '{"ts":"x","symbol":"P","price":0.01}')
  for (const tick of [...take({}, 2000), ...take({ model: 'gbm', symbols: ['ETH-USD', 'X'] }, 2000)]) {
    assert.deepEqual(JSON.parse(encodePriceTick(tick)), tick)
  }
})

test('encodePriceTick escapes symbols (and ts) that need it', () => {
  for (const symbol of [
    'A"B',
    'back\\slash',
    'tab\there',
    'nl\n',
    '\u0000',
    'caf\u00e9',
    '\u{1f600}',
    '\ud800lone',
    'É"',
  ]) {
    const text = encodePriceTick({ ts: '2021-03-10 16:21:32.000', symbol, price: 1.5 })
    assert.deepEqual(JSON.parse(text), { ts: '2021-03-10 16:21:32.000', symbol, price: 1.5 })
    assert.ok(
      [...text].every((c) => c.charCodeAt(0) >= 0x20),
      'no raw control characters',
    )
  }
  assert.deepEqual(JSON.parse(encodePriceTick({ ts: 'a"b', symbol: 'S', price: 2 })), {
    ts: 'a"b',
    symbol: 'S',
    price: 2,
  })
})

test('encodePriceTick refuses a price JSON cannot carry', () => {
  for (const price of [NaN, Infinity, -Infinity]) {
    assert.throws(() => encodePriceTick({ ts: 't', symbol: 'S', price }), { code: ErrorCodes.INVALID_ARGUMENT })
  }
})

// ---------------------------------------------------------------------------------------------
// scanPrice: the fast path must agree with JSON.parse + the schema, or decline

/** What the slow path makes of `buf`, in scanPrice's terms (undefined when it rejects the record). */
function slowPath(buf: Buffer): { tsMs: number; symbol: string; price: number } | undefined {
  const decoded = pricesTopic.decode(buf)
  if (!decoded.ok) return undefined
  const tsMs = parsePriceTs(decoded.value.ts)
  assert.notEqual(tsMs, undefined, 'a decoded ts always parses')
  return { tsMs: tsMs as number, symbol: decoded.value.symbol, price: decoded.value.price }
}

/**
 * The property: scanPrice accepts a record only when the slow path does, with the same timestamp,
 * symbol and price (=== JSON.parse's). Returns whether scanPrice accepted it.
 */
function checkScan(text: string | Buffer): boolean {
  const buf = typeof text === 'string' ? Buffer.from(text) : text
  const out: PriceScan = { tsMs: -1, symbolStart: -1, symbolEnd: -1, price: -1 }
  const fast = scanPrice(buf, out)
  if (!fast) return false
  const slow = slowPath(buf)
  const what = JSON.stringify(buf.toString('latin1'))
  assert.ok(slow !== undefined, `scanPrice accepted what the schema rejects: ${what}`)
  assert.equal(out.tsMs, slow.tsMs, what)
  assert.equal(buf.toString('utf8', out.symbolStart, out.symbolEnd), slow.symbol, what)
  assert.equal(out.price, slow.price, what)
  assert.equal(Object.is(out.price, JSON.parse(buf.toString('utf8')).price), true, what)
  return true
}

const canonical = (ts: string, symbol: string, price: string): string =>
  `{"ts":"${ts}","symbol":"${symbol}","price":${price}}`

const SYMBOLS = ['A', 'AAPL', 'BTC-USD', 'BRK.B', 'ETH/USD', 'X_1', 'two words', '^GSPC', 'a~z', 'S'.repeat(64)]

const PRICE_TEXTS = [
  '0.01',
  '0.1',
  '0.10',
  '0.5',
  '0.001',
  '0.0000001',
  '0.00000000000001',
  '1',
  '1.0',
  '1.00',
  '10.5',
  '238.3',
  '238.30',
  '238.32',
  '60000.00',
  '99999999.99',
  '123456789.123456',
  '999999999999999',
  '99999999999999.9',
  '123456789012345',
  '100000000000000',
  '0.123456789012345',
  '9007199254740991',
  '1000000000000000',
  '1000000000000000.5',
  '12345678901234567890',
  '3.141592653589793',
  '0.30000000000000004',
  '767.9300000000001',
  '1e-7',
  '1E5',
  '2.5e2',
  '1e21',
]

test('scanPrice reads the canonical layout exactly as JSON.parse + the schema do', () => {
  const times = [
    TS,
    '0000-01-01 00:00:00.000',
    '1969-12-31 23:59:59.999',
    '2024-02-29 23:59:59.999',
    '9999-12-31 23:59:59.999',
  ]
  let accepted = 0
  for (const ts of times) {
    for (const symbol of SYMBOLS) {
      for (const price of PRICE_TEXTS) if (checkScan(canonical(ts, symbol, price))) accepted++
    }
  }
  assert.ok(accepted > 0)
  // The forms the feeds write (up to 15 significant digits) all take the fast path.
  for (const price of ['0.01', '1', '1.0', '10.5', '238.30', '99999999.99', '123456789012345', '0.0000001']) {
    for (const symbol of SYMBOLS) {
      assert.equal(checkScan(canonical(TS, symbol, price)), true, `${symbol} ${price}`)
    }
  }
  // Generated ticks, through the feed's encoder.
  for (const tick of [
    ...take({}, 3000),
    ...take({ model: 'gbm', symbols: ['ETH-USD', 'X'], tickMs: 3_600_000 }, 3000),
  ]) {
    const text = encodePriceTick(tick)
    assert.equal(checkScan(text), true, text)
  }
})

test('scanPrice agrees with the slow path on random prices, timestamps and symbols', () => {
  const next = lcg(42)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]
  const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('')
  let fast = 0
  for (let i = 0; i < 50_000; i++) {
    const ts = formatPriceTs(Math.floor(-62_167_219_200_000 + next() * 315_569_520_000_000))
    const symbol = pick(SYMBOLS)
    let price: string
    switch (i % 5) {
      case 0: // a decimal with up to 18 digits in all, leading zeros allowed after "0."
        price =
          (next() < 0.3 ? '0' : String(1 + Math.floor(next() * 9)) + digits(Math.floor(next() * 9))) +
          (next() < 0.8 ? '.' + digits(1 + Math.floor(next() * 9)) : '')
        break
      case 1: // cents
        price = (Math.floor(next() * 1e8) / 100).toFixed(2)
        break
      case 2: // a double's shortest form, sometimes in exponent notation
        price = String(next() * 10 ** Math.floor(next() * 30 - 10))
        break
      case 3: // a neighbour of a cent value
        price = String(Math.floor(next() * 1e7) / 100 + (next() - 0.5) * 1e-12)
        break
      default: // up to 22 digits: past where the integer is exact
        price = String(1 + Math.floor(next() * 9)) + digits(Math.floor(next() * 22))
    }
    if (checkScan(canonical(ts, symbol, price))) fast++
  }
  // Most of these are plain decimals of at most 15 digits: the fast path must take them.
  assert.ok(fast > 25_000, `fast path taken ${fast} times`)
})

test('scanPrice never accepts invalid records', () => {
  const invalid = [
    canonical('2023-02-29 00:00:00.000', 'A', '1'),
    canonical('1900-02-29 00:00:00.000', 'A', '1'),
    canonical('2021-13-10 16:21:32.000', 'A', '1'),
    canonical('2021-00-10 16:21:32.000', 'A', '1'),
    canonical('2021-04-31 16:21:32.000', 'A', '1'),
    canonical('2021-03-00 16:21:32.000', 'A', '1'),
    canonical('2021-03-10 24:00:00.000', 'A', '1'),
    canonical('2021-03-10 16:60:00.000', 'A', '1'),
    canonical('2021-03-10 16:21:60.000', 'A', '1'),
    canonical('2021-03-10T16:21:32.000', 'A', '1'),
    canonical('2021-03-10 16:21:32', 'A', '1'),
    canonical('2021-03-10 16:21:32.0000', 'A', '1'),
    canonical('2021-03-1a 16:21:32.000', 'A', '1'),
    canonical('+021-03-10 16:21:32.000', 'A', '1'),
    canonical(TS, '', '1'),
    canonical(TS, 'S'.repeat(65), '1'),
    canonical(TS, 'A', '0'),
    canonical(TS, 'A', '0.0'),
    canonical(TS, 'A', '0.00'),
    canonical(TS, 'A', '-1'),
    canonical(TS, 'A', '-0.01'),
    canonical(TS, 'A', '+1'),
    canonical(TS, 'A', '01'),
    canonical(TS, 'A', '00.5'),
    canonical(TS, 'A', '.5'),
    canonical(TS, 'A', '1.'),
    canonical(TS, 'A', '1..2'),
    canonical(TS, 'A', '1.2.3'),
    canonical(TS, 'A', '0x10'),
    canonical(TS, 'A', 'NaN'),
    canonical(TS, 'A', 'Infinity'),
    canonical(TS, 'A', '"1"'),
    canonical(TS, 'A', 'null'),
    canonical(TS, 'A', '1e'),
    canonical(TS, 'A', '0e5'),
    canonical(TS, 'A', '1e400'),
    canonical(TS, 'A', '1e-400'),
    canonical(TS, 'A', '1,5'),
    canonical(TS, 'A', '1 2'),
    canonical(TS, 'A', ''),
    `{"ts":"${TS}","symbol":"A","price":1`,
    `{"ts":"${TS}","symbol":"A","price":1}}`,
    `{"ts":"${TS}","symbol":"A","price":1}x`,
    `{"ts":"${TS}","symbol":"A","price":1},`,
    `{"ts":"${TS}","symbol":"A","price":1,}`,
    `{"ts":"${TS}","symbol":"A"}`,
    `{"ts":"${TS}","price":1}`,
    `{"symbol":"A","price":1}`,
    `{"ts":"${TS}","symbol":"A","price":1`,
    `"ts":"${TS}","symbol":"A","price":1}`,
    `{"ts":"${TS}","symbol":A,"price":1}`,
    `{"ts":"${TS}","symbol":"A""B","price":1}`,
    `{"ts":"${TS}","symbol":"A\u0001","price":1}`,
    `{"ts":"${TS}","symbol":"A\nB","price":1}`,
    `{"ts":"${TS}","symbol":"A\\x41","price":1}`,
    `{"ts":"${TS}","symbol":"A\\u00","price":1}`,
    `{"ts":"${TS}","symbol":"A","price":1}\u0000`,
    `{"ts":${T0},"symbol":"A","price":1}`,
    '',
    '{}',
    'null',
    '[]',
  ]
  for (const text of invalid) {
    assert.equal(slowPath(Buffer.from(text)), undefined, `the schema rejects ${JSON.stringify(text)}`)
    assert.equal(checkScan(text), false, JSON.stringify(text))
  }
})

test('scanPrice declines valid layouts it does not know, which the slow path reads', () => {
  const valid = [
    `{"ts":"${TS}","symbol":"A\\u0042","price":1}`,
    `{"ts":"${TS}","symbol":"A\\\\B","price":1}`,
    `{"ts":"${TS}","symbol":"A\\/B","price":1}`,
    `{"ts":"${TS}","symbol":"A\\"B","price":1}`,
    `{"ts":"${TS}","symbol":"caf\u00e9","price":1}`,
    `{"ts":"${TS}","symbol":"\u{1f600}","price":1}`,
    `{"ts":"${TS}","symbol":"A\u007f","price":1}`,
    `{"ts":"2021-03-10 16:21:32.\\u0030\\u0030\\u0030","symbol":"A","price":1}`,
    `{"ts":"${TS}","symbol":"A","price":1e2}`,
    `{"ts":"${TS}","symbol":"A","price":1.5E-3}`,
    `{"ts":"${TS}","symbol":"A","price":2.5e+1}`,
    `{"ts":"${TS}","symbol":"A","price":0.0000000000000001}`,
    `{"ts":"${TS}","symbol":"A","price":12345678901234567}`,
    `{ "ts":"${TS}","symbol":"A","price":1}`,
    `{"ts": "${TS}", "symbol": "A", "price": 1}`,
    `{"ts":"${TS}","symbol":"A","price":1 }`,
    `{"ts":"${TS}","symbol":"A","price":1}\n`,
    ` {"ts":"${TS}","symbol":"A","price":1}`,
    `\t{"ts":"${TS}","symbol":"A","price":1}\r\n`,
    `{"symbol":"A","ts":"${TS}","price":1}`,
    `{"price":1,"symbol":"A","ts":"${TS}"}`,
    `{"ts":"${TS}","symbol":"A","price":1,"venue":"X"}`,
    `{"ts":"${TS}","symbol":"A","price":2,"price":1}`,
    `{"ts":"2000-01-01 00:00:00.000","ts":"${TS}","symbol":"A","price":1}`,
    `{"ts":"${TS}","symbol":"B","symbol":"A","price":1}`,
  ]
  for (const text of valid) {
    assert.notEqual(slowPath(Buffer.from(text)), undefined, `the schema accepts ${JSON.stringify(text)}`)
    // Whatever scanPrice does with these, it must not disagree.
    checkScan(text)
  }
  // Duplicate keys: JSON.parse keeps the last one; the fast path must not read the first.
  for (const text of valid.slice(-3)) assert.equal(checkScan(text), false, text)
})

test('scanPrice never disagrees with the slow path on mutated records', () => {
  const next = lcg(7)
  const alphabet = Buffer.from('0123456789.-+eE ":,{}\\/ntu\u0000\u001fAZaz\u007f')
  const bases = [
    canonical(TS, 'AAPL', '238.32'),
    canonical('2024-02-29 23:59:59.999', 'BTC-USD', '60000.5'),
    canonical('0000-01-01 00:00:00.000', 'X', '0.01'),
    canonical(TS, 'S', '123456789012345'),
  ].map((s) => Buffer.from(s))
  let accepted = 0
  for (let i = 0; i < 200_000; i++) {
    const base = bases[i % bases.length]
    let buf: Buffer = Buffer.from(base)
    const edits = 1 + Math.floor(next() * 3)
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * (buf.length + 1))
      const byte = next() < 0.8 ? alphabet[Math.floor(next() * alphabet.length)] : Math.floor(next() * 256)
      const kind = Math.floor(next() * 4)
      if (kind === 0 && at < buf.length) buf[at] = byte
      else if (kind === 1) buf = Buffer.concat([buf.subarray(0, at), Buffer.from([byte]), buf.subarray(at)])
      else if (kind === 2 && at < buf.length) buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)])
      else buf = buf.subarray(0, at)
    }
    if (checkScan(buf)) accepted++
  }
  // Many mutations (a digit for a digit) leave a valid canonical record: those still take the fast path.
  assert.ok(accepted > 0)
})

test('scanPrice reads a record in a larger buffer only within its bounds', () => {
  const text = canonical(TS, 'AAPL', '238.32')
  const big = Buffer.from('xx' + text + 'yy')
  const view = big.subarray(2, 2 + text.length)
  const out: PriceScan = { tsMs: 0, symbolStart: 0, symbolEnd: 0, price: 0 }
  assert.equal(scanPrice(view, out), true)
  assert.deepEqual(out, { tsMs: T0, symbolStart: 42, symbolEnd: 46, price: 238.32 })
  assert.equal(view.toString('latin1', out.symbolStart, out.symbolEnd), 'AAPL')
  assert.equal(scanPrice(big.subarray(2, 2 + text.length - 1), out), false)
})

// ---------------------------------------------------------------------------------------------
// pricesTopic: the schema and serde

test('pricesTopic.decode gives the value of a valid record, and a reason naming the field of an invalid one', () => {
  assert.deepEqual(pricesTopic.decode(Buffer.from(canonical(TS, 'AAPL', '238.32'))), {
    ok: true,
    value: { ts: TS, symbol: 'AAPL', price: 238.32 },
  })
  // Other fields are kept (loose object).
  const extra = pricesTopic.decode(Buffer.from(`{"ts":"${TS}","symbol":"A","price":1,"venue":"X"}`))
  assert.deepEqual(extra, { ok: true, value: { ts: TS, symbol: 'A', price: 1, venue: 'X' } })

  const reasonOf = (value: Buffer | null | undefined): string => {
    const decoded = pricesTopic.decode(value)
    assert.equal(decoded.ok, false)
    return (decoded as { reason: string }).reason
  }
  assert.ok(reasonOf(null).length > 0)
  assert.ok(reasonOf(undefined).length > 0)
  assert.match(reasonOf(Buffer.from('not json')), /JSON/)
  assert.match(reasonOf(Buffer.from('')), /JSON/)
  assert.match(reasonOf(Buffer.from(canonical(TS, 'A', '1').slice(0, -1))), /JSON/)
  const fieldOf = (text: string): string => reasonOf(Buffer.from(text)).split(':')[0]
  assert.equal(fieldOf(canonical('2023-02-29 00:00:00.000', 'A', '1')), 'ts')
  assert.equal(fieldOf(canonical('2021-03-10T16:21:32.000Z', 'A', '1')), 'ts')
  assert.equal(fieldOf(`{"ts":${T0},"symbol":"A","price":1}`), 'ts')
  assert.equal(fieldOf(`{"symbol":"A","price":1}`), 'ts')
  assert.equal(fieldOf(canonical(TS, '', '1')), 'symbol')
  assert.equal(fieldOf(canonical(TS, 'S'.repeat(65), '1')), 'symbol')
  assert.equal(fieldOf(`{"ts":"${TS}","symbol":7,"price":1}`), 'symbol')
  assert.equal(fieldOf(`{"ts":"${TS}","price":1}`), 'symbol')
  assert.equal(fieldOf(canonical(TS, 'A', '0')), 'price')
  assert.equal(fieldOf(canonical(TS, 'A', '-1')), 'price')
  assert.equal(fieldOf(canonical(TS, 'A', '"1"')), 'price')
  assert.equal(fieldOf(canonical(TS, 'A', 'null')), 'price')
  assert.equal(fieldOf(`{"ts":"${TS}","symbol":"A"}`), 'price')
  // Every failing field is counted.
  assert.match(reasonOf(Buffer.from('{}')), /and 2 more/)
  for (const text of ['[]', '1', '"x"', 'null', 'true']) assert.ok(reasonOf(Buffer.from(text)).length > 0, text)
})

test('pricesTopic.encode writes cents as the feed does, and keeps any other price exactly', () => {
  assert.equal(
    pricesTopic.encode({ ts: TS, symbol: 'AAPL', price: 238.3 }),
    '{"ts":"2021-03-10 16:21:32.000","symbol":"AAPL","price":238.30}',
  )
  assert.equal(pricesTopic.encode({ ts: TS, symbol: 'P', price: 0.01 }), canonical(TS, 'P', '0.01'))
  assert.equal(pricesTopic.encode({ ts: TS, symbol: 'P', price: 238.3215 }), canonical(TS, 'P', '238.3215'))
  assert.equal(pricesTopic.encode({ ts: TS, symbol: 'P', price: 0.001 }), canonical(TS, 'P', '0.001'))
  assert.equal(pricesTopic.encode({ ts: TS, symbol: 'P', price: 1 / 3 }), canonical(TS, 'P', String(1 / 3)))
  // Neighbours of cent values (float artefacts of replayed data) must not be rounded to the cent.
  for (const price of [767.9300000000001, 0.09999999999999999, 0.30000000000000004, 233486.08000000002]) {
    assert.equal(JSON.parse(pricesTopic.encode({ ts: TS, symbol: 'P', price })).price, price, String(price))
  }
  // Every value round-trips: replayed prices keep their precision.
  const next = lcg(3)
  const f = new Float64Array(1)
  const bits = new BigInt64Array(f.buffer)
  for (let i = 0; i < 100_000; i++) {
    const magnitude = 10 ** Math.floor(next() * 16 - 2)
    f[0] = Math.round(next() * 100 * magnitude) / 100
    if (i % 2 === 1) bits[0] += BigInt(Math.floor(next() * 7) - 3) // a neighbouring double
    const price = f[0]
    if (!(price > 0)) continue
    const tick = { ts: TS, symbol: 'S', price }
    const text = pricesTopic.encode(tick)
    assert.deepEqual(JSON.parse(text), tick, text)
    assert.deepEqual(pricesTopic.decode(Buffer.from(text)), { ok: true, value: tick })
    checkScan(text)
  }
  // Escaping, and the key.
  const odd = { ts: TS, symbol: 'A"B\\C', price: 1.23456 }
  assert.deepEqual(JSON.parse(pricesTopic.encode(odd)), odd)
  assert.equal(pricesTopic.keyOf(odd), 'A"B\\C')
  for (const price of [NaN, Infinity, -Infinity]) {
    assert.throws(() => pricesTopic.encode({ ts: TS, symbol: 'S', price }), { code: ErrorCodes.INVALID_ARGUMENT })
  }
})
