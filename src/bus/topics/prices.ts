/**
 * The `prices` topic: `{"ts":"2021-03-10 16:21:32.000","symbol":"AAPL","price":238.32}`, key = symbol.
 * ts is `yyyy-mm-dd hh:mm:ss.fff` UTC; the synthetic feed writes prices with two decimals.
 */
import { z } from 'zod'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { daysFromCivil, formatPriceTs, parsePriceTs } from '../time.ts'
import { decodeJson, jsonString } from './json.ts'
import type { Decoded, TopicType } from './types.ts'

/** One message of the `prices` topic. */
export interface PriceTick {
  ts: string
  symbol: string
  price: number
}

const priceSchema = z.looseObject({
  ts: z.string().refine((s) => parsePriceTs(s) !== undefined, 'expected yyyy-mm-dd hh:mm:ss.fff (UTC)'),
  symbol: z.string().min(1).max(64),
  price: z.number().positive(),
})

/**
 * Encodes `{"ts":"…","symbol":"…","price":238.30}`: this key order, price with two decimals.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when the price is not finite (it has no JSON form)
 */
export function encodePriceTick(tick: PriceTick): string {
  const price = tick.price
  if (!Number.isFinite(price)) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `price ${price} of ${tick.symbol} is not finite`)
  }
  return '{"ts":' + jsonString(tick.ts) + ',"symbol":' + jsonString(tick.symbol) + ',"price":' + price.toFixed(2) + '}'
}

/** The `prices` topic type. Replayed prices keep their precision; only the feed rounds to cents. */
export const pricesTopic: TopicType<PriceTick> = {
  name: 'prices',
  description: 'price ticks {ts, symbol, price}, key = symbol',
  schema: priceSchema as z.ZodType<PriceTick>,
  fields: [
    { name: 'ts', kind: 'timestamp', aliases: ['timestamp', 'time', 'datetime', 'date'], format: formatPriceTs },
    { name: 'symbol', kind: 'string', aliases: ['ticker', 'sym', 'instrument', 'name'] },
    { name: 'price', kind: 'number', aliases: ['close', 'last', 'px', 'adj close', 'trade price'] },
  ],
  keyOf: (tick) => tick.symbol,
  encode(tick) {
    // Replayed prices may carry more than two decimals, or be a neighbour of a cent value such as
    // 767.9300000000001 (whose price * 100 still rounds to an integer): two decimals only when they
    // read back as the same number; JSON.stringify keeps any other price exactly.
    const price = tick.price
    return !Number.isFinite(price) || Number(price.toFixed(2)) === price
      ? encodePriceTick(tick)
      : '{"ts":' +
          jsonString(tick.ts) +
          ',"symbol":' +
          jsonString(tick.symbol) +
          ',"price":' +
          JSON.stringify(tick.price) +
          '}'
  },
  decode: (bytes): Decoded<PriceTick> => decodeJson(priceSchema as z.ZodType<PriceTick>, bytes),
}

/** What {@link scanPrice} extracts from a record without building objects. */
export interface PriceScan {
  tsMs: number
  symbolStart: number
  symbolEnd: number
  price: number
}

const PREFIX_TS = Buffer.from('{"ts":"')
const MID_SYMBOL = Buffer.from('","symbol":"')
const MID_PRICE = Buffer.from('","price":')
// Powers of ten up to 1e22 are exact doubles, so digits / 10^k is the correctly rounded value of
// the decimal, which is exactly what JSON.parse returns for it.
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i)

function matches(buf: Buffer, at: number, lit: Buffer): boolean {
  if (at + lit.length > buf.length) return false
  for (let i = 0; i < lit.length; i++) if (buf[at + i] !== lit[i]) return false
  return true
}

function digits(buf: Buffer, at: number, n: number): number {
  let v = 0
  for (let i = at; i < at + n; i++) {
    const c = buf[i] - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * The fast path of `prices` decoding for readers of millions of records: recognises exactly the
 * canonical layout the feeds write (`{"ts":"…","symbol":"…","price":N}`, no spaces, no escapes,
 * a plain decimal price > 0) and fills `out` with the same values JSON.parse + the schema give.
 * Returns false for anything else — the caller then falls back to {@link pricesTopic}.decode, which
 * accepts every valid layout and explains what is wrong with invalid ones.
 */
export function scanPrice(buf: Buffer, out: PriceScan): boolean {
  if (!matches(buf, 0, PREFIX_TS)) return false
  const t = 7
  if (buf.length < t + 23) return false
  if (buf[t + 4] !== 0x2d || buf[t + 7] !== 0x2d || buf[t + 10] !== 0x20) return false
  if (buf[t + 13] !== 0x3a || buf[t + 16] !== 0x3a || buf[t + 19] !== 0x2e) return false
  const y = digits(buf, t, 4)
  const mo = digits(buf, t + 5, 2)
  const d = digits(buf, t + 8, 2)
  const h = digits(buf, t + 11, 2)
  const mi = digits(buf, t + 14, 2)
  const s = digits(buf, t + 17, 2)
  const ms = digits(buf, t + 20, 3)
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || ms < 0) {
    return false
  }
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo])) return false
  let at = t + 23
  if (!matches(buf, at, MID_SYMBOL)) return false
  at += MID_SYMBOL.length
  const symbolStart = at
  // Printable ASCII without quote or backslash: anything else goes to the exact slow path.
  while (at < buf.length && buf[at] !== 0x22) {
    const c = buf[at]
    if (c < 0x20 || c === 0x5c || c > 0x7e) return false
    at++
  }
  const symbolEnd = at
  if (symbolEnd === symbolStart || symbolEnd - symbolStart > 64) return false
  if (!matches(buf, at, MID_PRICE)) return false
  at += MID_PRICE.length
  // price: [1-9]\d*(\.\d+)? or 0\.\d+, at most 15 significant digits so the integer is exact.
  let mantissa = 0
  let nDigits = 0
  let scale = 0
  if (buf[at] === 0x30 && buf[at + 1] !== 0x2e) return false
  while (at < buf.length && buf[at] >= 0x30 && buf[at] <= 0x39) {
    mantissa = mantissa * 10 + (buf[at] - 48)
    nDigits++
    at++
  }
  if (nDigits === 0) return false
  if (buf[at] === 0x2e) {
    at++
    const fracStart = at
    while (at < buf.length && buf[at] >= 0x30 && buf[at] <= 0x39) {
      mantissa = mantissa * 10 + (buf[at] - 48)
      nDigits++
      at++
    }
    scale = at - fracStart
    if (scale === 0) return false
  }
  if (nDigits > 15 || scale > 22) return false
  if (at !== buf.length - 1 || buf[at] !== 0x7d) return false
  const price = mantissa / POW10[scale]
  if (!(price > 0)) return false
  out.tsMs = daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms
  out.symbolStart = symbolStart
  out.symbolEnd = symbolEnd
  out.price = price
  return true
}
