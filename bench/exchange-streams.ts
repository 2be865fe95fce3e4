/**
 * The seeded command streams of the exchange benchmark (the scenarios of the exchange design
 * note). Each stream is generated once, against a book of our engine that tracks which orders
 * are resting (so cancels and moves name live orders), and then replayed by every engine under
 * test; generation is not timed.
 */
import { OrderBook } from '../src/exchange/order-book.ts'
import { BookListener, type Side, type TimeInForce } from '../src/exchange/types.ts'
import { Random } from '../src/feeds/random.ts'

export type Command =
  | {
      kind: 'new'
      book: number
      id: number
      /** The id as a string, made before timing (the baseline takes string ids). */
      key: string
      side: Side
      tif: TimeInForce
      /** Market orders are IOC orders without a price here: every engine under test has them. */
      market: boolean
      price: number
      quantity: number
    }
  | { kind: 'cancel'; book: number; id: number; key: string }
  | { kind: 'move'; book: number; id: number; key: string; price: number; quantity: number }

export interface Stream {
  name: string
  commands: Command[]
  books: number
  /** Trades while generating, for the report. */
  trades: number
}

interface Sim {
  book: OrderBook
  /**
   * The ids of resting orders, and of some that have left the book since: an id is dropped when
   * a pick finds it gone. (No callbacks: the book reports to a plain BookListener, the class the
   * engine under test reports to, so generating a stream leaves no other listener class in the
   * engine's call sites.)
   */
  live: number[]
}

function sim(): Sim {
  return { book: new OrderBook(new BookListener(), { selfTrade: 'none' }), live: [] }
}

/** A resting order of a non-empty book, picked uniformly at random. */
function pick(s: Sim, rnd: Random): number {
  for (;;) {
    const i = rnd.int(0, s.live.length - 1)
    const id = s.live[i]
    if (s.book.order(id) !== undefined) return id
    s.live[i] = s.live[s.live.length - 1]
    s.live.pop()
  }
}

function track(s: Sim, id: number): void {
  if (s.book.order(id) !== undefined) s.live.push(id)
}

/**
 * The exchange-core mix: 9% GTC limit, 3% IOC, 6% cancel, 82% move (a new price), about 1,000
 * resting orders over about 750 levels around a mid price, spread over `books` books.
 */
export function exchangeCoreMix(n: number, books = 1, seed = 'exchange-core'): Stream {
  const rnd = new Random(seed)
  const sims = Array.from({ length: books }, sim)
  const target = 1000
  const commands: Command[] = []
  let nextId = 1
  let trades = 0
  const mid = 100_000
  const half = 375
  for (let i = 0; i < n; i++) {
    const b = books === 1 ? 0 : rnd.int(0, books - 1)
    const s = sims[b]
    const r = rnd.next()
    const perBook = target / books
    const before = s.book.trades
    let c: Command
    if (s.book.size === 0 || r < 0.09 || (r < 0.15 && s.book.size < perBook)) {
      // A passive GTC order on its side of the mid, ~750 levels in all.
      const side: Side = rnd.next() < 0.5 ? 'BUY' : 'SELL'
      const price = side === 'BUY' ? mid - rnd.int(1, half) : mid + rnd.int(0, half - 1)
      const id = nextId++
      c = {
        kind: 'new',
        book: b,
        id,
        key: String(id),
        side,
        tif: 'GTC',
        market: false,
        price,
        quantity: rnd.int(1, 100),
      }
      s.book.add({ id, trader: '', side, type: 'limit', tif: 'GTC', price, quantity: c.quantity, ts: i })
      track(s, id)
    } else if (r < 0.12) {
      // An IOC order reaching a few levels into the other side.
      const side: Side = rnd.next() < 0.5 ? 'BUY' : 'SELL'
      const best = side === 'BUY' ? s.book.bestAsk() : s.book.bestBid()
      const price = best === undefined ? mid : side === 'BUY' ? best + rnd.int(0, 3) : best - rnd.int(0, 3)
      const id = nextId++
      c = {
        kind: 'new',
        book: b,
        id,
        key: String(id),
        side,
        tif: 'IOC',
        market: false,
        price,
        quantity: rnd.int(1, 100),
      }
      s.book.add({ id, trader: '', side, type: 'limit', tif: 'IOC', price, quantity: c.quantity, ts: i })
    } else if (r < 0.18 || s.book.size > perBook * 1.2) {
      const id = pick(s, rnd)
      c = { kind: 'cancel', book: b, id, key: String(id) }
      s.book.cancel(id, '', i)
    } else {
      // Move: a new price near the old one; now and then across the spread.
      const id = pick(s, rnd)
      const o = s.book.order(id)!
      let price = o.price + rnd.int(-8, 8)
      if (price === o.price) price += 1
      if (rnd.next() < 0.04) {
        // Across the spread: the move trades (about 3% of all commands; IOC orders the other 3%).
        const best = o.side === 'BUY' ? s.book.bestAsk() : s.book.bestBid()
        if (best !== undefined) price = o.side === 'BUY' ? best + rnd.int(0, 2) : best - rnd.int(0, 2)
      }
      price = Math.min(mid + half * 2, Math.max(mid - half * 2, price))
      c = { kind: 'move', book: b, id, key: String(id), price, quantity: o.quantity }
      s.book.modify(id, '', price, o.quantity, i)
    }
    trades += s.book.trades > before ? 1 : 0
    commands.push(c)
  }
  return { name: books === 1 ? 'exchange-core mix' : `exchange-core mix, ${books} books`, commands, books, trades }
}

/**
 * Inserts growing the book: alternating buys and sells over 10 ticks each side; 6 of every 100
 * cross the spread and trade. Resting orders grow to about `n` × 0.88.
 */
export function insertsGrowing(n: number, seed = 'inserts'): Stream {
  const rnd = new Random(seed)
  const commands: Command[] = []
  const mid = 10_000
  for (let i = 0; i < n; i++) {
    const side: Side = i % 2 === 0 ? 'BUY' : 'SELL'
    const crossing = i % 100 < 6
    const offset = crossing ? -rnd.int(0, 2) : rnd.int(1, 10)
    const price = side === 'BUY' ? mid - offset : mid + offset
    const id = i + 1
    commands.push({
      kind: 'new',
      book: 0,
      id,
      key: String(id),
      side,
      tif: 'GTC',
      market: false,
      price,
      quantity: rnd.int(1, 10),
    })
  }
  return { name: 'inserts to a large book', commands, books: 1, trades: 0 }
}

/** A Nasdaq-like profile: 45% add, 44% cancel, the rest market orders that execute. */
export function nasdaqLike(n: number, seed = 'nasdaq'): Stream {
  const rnd = new Random(seed)
  const s = sim()
  const commands: Command[] = []
  let nextId = 1
  let trades = 0
  const mid = 50_000
  for (let i = 0; i < n; i++) {
    const r = rnd.next()
    const before = s.book.trades
    let c: Command
    if (s.book.size < 100 || r < 0.45) {
      const side: Side = rnd.next() < 0.5 ? 'BUY' : 'SELL'
      const price = side === 'BUY' ? mid - rnd.int(0, 200) : mid + 1 + rnd.int(0, 200)
      const id = nextId++
      c = {
        kind: 'new',
        book: 0,
        id,
        key: String(id),
        side,
        tif: 'GTC',
        market: false,
        price,
        quantity: rnd.int(1, 50) * 100,
      }
      s.book.add({ id, trader: '', side, type: 'limit', tif: 'GTC', price, quantity: c.quantity, ts: i })
      track(s, id)
    } else if (r < 0.89) {
      const id = pick(s, rnd)
      c = { kind: 'cancel', book: 0, id, key: String(id) }
      s.book.cancel(id, '', i)
    } else {
      const side: Side = rnd.next() < 0.5 ? 'BUY' : 'SELL'
      const id = nextId++
      c = {
        kind: 'new',
        book: 0,
        id,
        key: String(id),
        side,
        tif: 'IOC',
        market: true,
        price: 0,
        quantity: rnd.int(1, 5) * 100,
      }
      s.book.add({ id, trader: '', side, type: 'market', tif: 'IOC', price: 0, quantity: c.quantity, ts: i })
    }
    trades += s.book.trades > before ? 1 : 0
    commands.push(c)
  }
  return { name: 'Nasdaq-like add/cancel', commands, books: 1, trades }
}
