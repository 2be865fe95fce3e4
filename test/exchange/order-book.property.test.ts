import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { Random } from '../../src/feeds/random.ts'
import { OrderBook } from '../../src/exchange/order-book.ts'
import {
  BookListener,
  SELF_TRADE_MODES,
  type ExpireReason,
  type OrderState,
  type RejectReason,
  type SelfTradePrevention,
} from '../../src/exchange/types.ts'
import { ReferenceMatcher, type RefCommand } from './reference-matcher.ts'

/** Records the engine's events in the reference matcher's words, and the trades in full. */
class Recorder extends BookListener {
  events: string[] = []
  trades: { seq: number; maker: number; taker: number; makerPrice: number; price: number; qty: number }[] = []
  override accepted(o: OrderState): void {
    this.events.push(`accepted ${o.id}`)
  }
  override rejected(id: number, _trader: string, reason: RejectReason): void {
    this.events.push(`rejected ${id} ${reason}`)
  }
  override trade(seq: number, maker: OrderState, taker: OrderState, price: number, qty: number): void {
    this.events.push(`trade maker=${maker.id} taker=${taker.id} price=${price} qty=${qty}`)
    this.trades.push({ seq, maker: maker.id, taker: taker.id, makerPrice: maker.price, price, qty })
  }
  override filled(o: OrderState): void {
    this.events.push(`filled ${o.id}`)
  }
  override cancelled(o: OrderState): void {
    this.events.push(`cancelled ${o.id} open=${o.open}`)
  }
  override expired(o: OrderState, reason: ExpireReason): void {
    this.events.push(`expired ${o.id} ${reason} open=${o.open}`)
  }
  override modified(o: OrderState, requeued: boolean): void {
    this.events.push(`modified ${o.id} ${requeued ? 'requeued' : 'kept'} open=${o.open}`)
  }
}

/**
 * A random command stream over a narrow band of prices, so orders cross often. For streams over
 * other bands, `priceAt` draws the prices of new orders and of half the moves (at the i-th
 * command), `wild` those of the other moves (some not valid).
 */
function commands(
  seed: string,
  n: number,
  priceAt: (rnd: Random, i: number) => number = (rnd) => 100 + rnd.int(-6, 6),
  wild: (rnd: Random, i: number) => number = (rnd) => rnd.int(-1, 110),
): RefCommand[] {
  const rnd = new Random(seed)
  const traders = ['', 'a', 'b', 'c', 'd']
  const out: RefCommand[] = []
  let nextId = 1
  const ids: number[] = []
  const priceOf = new Map<number, number>()
  for (let i = 0; i < n; i++) {
    const r = rnd.next()
    const trader = rnd.pick(traders)
    if (r < 0.15 && ids.length > 0) {
      out.push({ kind: 'cancel', id: rnd.pick(ids), trader: rnd.next() < 0.9 ? '' : trader })
    } else if (r < 0.3 && ids.length > 0) {
      const id = rnd.pick(ids)
      // Often the same price and less: a modification that keeps its place in the queue.
      const keep = rnd.next() < 0.3 && priceOf.has(id)
      const price = keep ? priceOf.get(id)! : rnd.next() < 0.5 ? priceAt(rnd, i) : wild(rnd, i)
      priceOf.set(id, price)
      out.push({ kind: 'modify', id, trader: '', price, quantity: keep ? rnd.int(1, 6) : rnd.int(0, 12) })
    } else {
      const id = rnd.next() < 0.02 && ids.length > 0 ? rnd.pick(ids) : nextId++
      ids.push(id)
      const type = rnd.next() < 0.1 ? 'market' : 'limit'
      const t = rnd.next()
      const price = rnd.next() < 0.01 ? 0 : priceAt(rnd, i)
      priceOf.set(id, price)
      out.push({
        kind: 'new',
        id,
        trader,
        side: rnd.next() < 0.5 ? 'BUY' : 'SELL',
        type,
        tif: t < 0.7 ? 'GTC' : t < 0.85 ? 'IOC' : 'FOK',
        postOnly: type === 'limit' && rnd.next() < 0.08,
        price,
        quantity: rnd.next() < 0.01 ? 0 : rnd.int(1, 10),
      })
    }
  }
  return out
}

function apply(book: OrderBook, c: RefCommand, ts: number): void {
  if (c.kind === 'cancel') book.cancel(c.id, c.trader, ts)
  else if (c.kind === 'modify') book.modify(c.id, c.trader, c.price, c.quantity, ts)
  else book.add({ ...c, ts })
}

function run(stream: RefCommand[], selfTrade: SelfTradePrevention): { rec: Recorder; book: OrderBook } {
  const rec = new Recorder()
  const book = new OrderBook(rec, { selfTrade })
  stream.forEach((c, i) => apply(book, c, i))
  return { rec, book }
}

const tradeHash = (rec: Recorder): string => createHash('sha256').update(JSON.stringify(rec.trades)).digest('hex')

/**
 * Runs `stream` through the engine and the reference matcher, asserting the same events command by
 * command and the same resting orders at the end; counts the kinds of event in `seen` and calls
 * `each` after every command.
 */
function agree(
  stream: RefCommand[],
  selfTrade: SelfTradePrevention,
  label: string,
  seen: Map<string, number>,
  each: (book: OrderBook) => void = () => {},
): void {
  const rec = new Recorder()
  const book = new OrderBook(rec, { selfTrade })
  const ref = new ReferenceMatcher(selfTrade)
  stream.forEach((c, i) => {
    rec.events = []
    apply(book, c, i)
    each(book)
    const expected = ref.apply(c)
    assert.deepEqual(rec.events, expected, `${label}, command ${i}: ${JSON.stringify(c)}`)
    for (const e of expected) {
      const kind = e
        .split(' ')
        .filter((w, k) => k === 0 || /^[a-z-]+$/.test(w))
        .join(' ')
      seen.set(kind, (seen.get(kind) ?? 0) + 1)
    }
  })
  // The same resting orders, in the same queue order, with the same open quantities.
  const restingOf = (side: 'BUY' | 'SELL') =>
    ref.resting
      .filter((r) => r.side === side)
      .sort((a, b) => (side === 'BUY' ? b.price - a.price : a.price - b.price) || a.arrival - b.arrival)
      .map((r) => [r.id, r.price, r.open])
  const snap = book.snapshot()
  assert.deepEqual(
    snap.bids.map((o) => [o.id, o.price, o.open]),
    restingOf('BUY'),
  )
  assert.deepEqual(
    snap.asks.map((o) => [o.id, o.price, o.open]),
    restingOf('SELL'),
  )
}

for (const selfTrade of SELF_TRADE_MODES) {
  test(`random order streams (${selfTrade}): the engine agrees with the reference matcher event for event`, () => {
    const seen = new Map<string, number>()
    for (let s = 0; s < 20; s++) agree(commands(`${selfTrade}-${s}`, 1500), selfTrade, `seed ${s}`, seen)
    // The streams reach every rule, or agreeing would prove little.
    const kinds = [
      'trade',
      'filled',
      'cancelled',
      'expired fok-not-fillable',
      'expired not-filled-at-once',
      'modified kept',
      'modified requeued',
      'rejected post-only-would-trade',
      'rejected duplicate-order-id',
      'rejected unknown-order',
      'rejected non-positive-quantity',
      'rejected quantity-not-above-filled',
      'rejected not-order-owner',
    ]
    if (selfTrade !== 'none') kinds.push('expired self-trade')
    for (const k of kinds) assert.ok((seen.get(k) ?? 0) >= 5, `${k}: ${seen.get(k) ?? 0} times`)
    if (selfTrade === 'none') assert.equal(seen.get('expired self-trade'), undefined)
  })
}

test('over wide and drifting price bands (levels held few, as a ladder, regrown, and wide) the engine still agrees', () => {
  const seen = new Map<string, number>()
  const layouts = new Set<string>()
  for (let s = 0; s < 12; s++) {
    // A mid that swings by thousands of ticks, orders within 60 ticks of it; in half the
    // streams 3% of prices fall up to 30,000 ticks away, past what a ladder holds.
    const far = s % 2 === 1
    const priceAt = (rnd: Random, i: number) => {
      const mid = 40_000 + Math.round(3000 * Math.sin(i / 150 + s))
      if (far && rnd.next() < 0.03) return Math.max(1, mid + rnd.int(-30_000, 30_000))
      return mid + rnd.int(-60, 60)
    }
    const wild = (rnd: Random, i: number) => (rnd.next() < 0.1 ? rnd.int(-1, 0) : priceAt(rnd, i) + rnd.int(-9, 9))
    agree(commands(`wide-${s}`, 1500, priceAt, wild), 'expire-taker', `wide seed ${s}`, seen, (book) => {
      layouts.add(`${book.bids.layout} ${far ? 'far' : 'near'}`)
      layouts.add(`${book.asks.layout} ${far ? 'far' : 'near'}`)
    })
  }
  assert.deepEqual([...layouts].sort(), ['few far', 'few near', 'ladder far', 'ladder near', 'wide far'])
  for (const k of ['trade', 'filled', 'cancelled', 'modified requeued'])
    assert.ok((seen.get(k) ?? 0) >= 50, `${k}: ${seen.get(k) ?? 0} times`)
})

test('after every command the book is not crossed, and levels hold what their orders hold', () => {
  for (let s = 0; s < 10; s++) {
    const rec = new Recorder()
    const book = new OrderBook(rec)
    commands(`uncrossed-${s}`, 3000).forEach((c, i) => {
      apply(book, c, i)
      const bid = book.bestBid()
      const ask = book.bestAsk()
      if (bid !== undefined && ask !== undefined) assert.ok(bid < ask, `crossed after command ${i}: ${bid} >= ${ask}`)
    })
    const snap = book.snapshot()
    for (const [side, orders] of [
      ['BUY', snap.bids],
      ['SELL', snap.asks],
    ] as const) {
      const byPrice = new Map<number, number>()
      for (const o of orders) byPrice.set(o.price, (byPrice.get(o.price) ?? 0) + o.open)
      assert.deepEqual(
        book.depth(side).map(([p, q]) => [p, q]),
        [...byPrice],
      )
      // Best first: strictly better prices earlier.
      const prices = book.depth(side).map(([p]) => p)
      for (let i = 1; i < prices.length; i++)
        assert.ok(side === 'BUY' ? prices[i - 1] > prices[i] : prices[i - 1] < prices[i])
    }
  }
})

test('quantity is conserved: every order ends filled, open, cancelled or expired for exactly its quantity', () => {
  for (let s = 0; s < 10; s++) {
    const stream = commands(`conserved-${s}`, 3000)
    // Orders accepted, by id while live; duplicates of a live id are rejected, so ids map one-to-one.
    const live = new Map<number, { quantity: number; traded: number; closed: number }>()
    const done: { quantity: number; traded: number; closed: number }[] = []
    class Ledger extends BookListener {
      override accepted(o: OrderState): void {
        live.set(o.id, { quantity: o.quantity, traded: 0, closed: 0 })
      }
      override trade(_s: number, maker: OrderState, taker: OrderState, _p: number, q: number): void {
        live.get(maker.id)!.traded += q
        live.get(taker.id)!.traded += q
      }
      override filled(o: OrderState): void {
        done.push(live.get(o.id)!)
        live.delete(o.id)
      }
      override cancelled(o: OrderState): void {
        live.get(o.id)!.closed += o.open
        done.push(live.get(o.id)!)
        live.delete(o.id)
      }
      override expired(o: OrderState): void {
        live.get(o.id)!.closed += o.open
        done.push(live.get(o.id)!)
        live.delete(o.id)
      }
      override modified(o: OrderState): void {
        const l = live.get(o.id)!
        l.quantity = o.quantity
      }
    }
    const book = new OrderBook(new Ledger())
    stream.forEach((c, i) => apply(book, c, i))
    for (const d of done) assert.equal(d.traded + d.closed, d.quantity)
    for (const [id, l] of live) {
      const o = book.order(id)!
      assert.equal(l.traded, o.filled)
      assert.equal(o.filled + o.open, l.quantity)
    }
    assert.equal(live.size, book.size)
  }
})

test('trades happen at the maker price, within the taker limit, best prices first, in seq order', () => {
  for (let s = 0; s < 10; s++) {
    const stream = commands(`maker-${s}`, 3000)
    const rec = new Recorder()
    const book = new OrderBook(rec)
    let seq = 0
    stream.forEach((c, i) => {
      const before = rec.trades.length
      apply(book, c, i)
      const mine = rec.trades.slice(before)
      for (const t of mine) {
        assert.equal(t.seq, ++seq)
        assert.equal(t.price, t.makerPrice, 'at the resting order price')
        if (c.kind === 'new' && c.type === 'limit') {
          assert.ok(c.side === 'BUY' ? t.price <= c.price : t.price >= c.price, 'within the limit')
        }
      }
      // An aggressor walks the book from the best price: buy prices never fall, sell prices never rise.
      const side = c.kind === 'new' ? c.side : undefined
      for (let k = 1; k < mine.length && side !== undefined; k++) {
        assert.ok(side === 'BUY' ? mine[k].price >= mine[k - 1].price : mine[k].price <= mine[k - 1].price)
      }
    })
  }
})

test('replaying the same commands gives the same trade hash; a different stream a different one', () => {
  const stream = commands('replay', 5000)
  const first = run(stream, 'expire-taker')
  const again = run(stream, 'expire-taker')
  assert.ok(first.rec.trades.length > 100)
  assert.equal(tradeHash(again.rec), tradeHash(first.rec))
  assert.deepEqual(again.book.snapshot(), first.book.snapshot())
  const other = run(commands('replay-2', 5000), 'expire-taker')
  assert.notEqual(tradeHash(other.rec), tradeHash(first.rec))
})

test('a book restored from its snapshot behaves as the original from then on', () => {
  const stream = commands('restore', 4000)
  const whole = run(stream, 'expire-both')
  const rec = new Recorder()
  let book = new OrderBook(rec, { selfTrade: 'expire-both' })
  stream.forEach((c, i) => {
    if (i > 0 && i % 997 === 0) {
      book = OrderBook.restore(JSON.parse(JSON.stringify(book.snapshot())), rec, { selfTrade: 'expire-both' })
    }
    apply(book, c, i)
  })
  assert.equal(tradeHash(rec), tradeHash(whole.rec))
  assert.deepEqual(rec.events, whole.rec.events)
})
