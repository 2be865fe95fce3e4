import assert from 'node:assert/strict'
import { test } from 'node:test'
import { highestBelow, lowestAbove, OrderBook } from '../../src/exchange/order-book.ts'
import { Random } from '../../src/feeds/random.ts'
import {
  BookListener,
  type ExpireReason,
  type NewOrder,
  type OrderState,
  type RejectReason,
} from '../../src/exchange/types.ts'

class Log extends BookListener {
  lines: string[] = []
  override accepted(o: OrderState): void {
    this.lines.push(`accepted ${o.id}`)
  }
  override rejected(id: number, _t: string, reason: RejectReason): void {
    this.lines.push(`rejected ${id} ${reason}`)
  }
  override trade(seq: number, maker: OrderState, taker: OrderState, price: number, q: number): void {
    this.lines.push(`trade#${seq} ${maker.id}<-${taker.id} ${q}@${price}`)
  }
  override filled(o: OrderState): void {
    this.lines.push(`filled ${o.id}`)
  }
  override cancelled(o: OrderState): void {
    this.lines.push(`cancelled ${o.id}`)
  }
  override expired(o: OrderState, reason: ExpireReason): void {
    this.lines.push(`expired ${o.id} ${reason} ${o.open}`)
  }
  override modified(o: OrderState, requeued: boolean): void {
    this.lines.push(`modified ${o.id} ${requeued ? 'requeued' : 'kept'}`)
  }
  take(): string[] {
    const l = this.lines
    this.lines = []
    return l
  }
}

let nextTs = 0
const order = (o: Partial<NewOrder> & Pick<NewOrder, 'id' | 'side'>): NewOrder => ({
  trader: '',
  type: 'limit',
  tif: 'GTC',
  price: 100,
  quantity: 1,
  ts: nextTs++,
  ...o,
})

test('partial fills at the resting price, best price first, earliest first within a price', () => {
  const log = new Log()
  const book = new OrderBook(log)
  book.add(order({ id: 1, side: 'SELL', price: 101, quantity: 5 }))
  book.add(order({ id: 2, side: 'SELL', price: 100, quantity: 3 }))
  book.add(order({ id: 3, side: 'SELL', price: 100, quantity: 4 }))
  log.take()
  book.add(order({ id: 4, side: 'BUY', price: 101, quantity: 10 }))
  assert.deepEqual(log.take(), [
    'accepted 4',
    'trade#1 2<-4 3@100',
    'filled 2',
    'trade#2 3<-4 4@100',
    'filled 3',
    'trade#3 1<-4 3@101',
    'filled 4',
  ])
  assert.equal(book.order(1)?.open, 2)
  assert.deepEqual(book.depth('SELL'), [[101, 2, 1]])
  assert.equal(book.bestBid(), undefined)
})

test('IOC and market orders expire what they cannot fill; FOK fills whole or not at all', () => {
  const log = new Log()
  const book = new OrderBook(log)
  book.add(order({ id: 1, side: 'SELL', price: 100, quantity: 5 }))
  log.take()
  book.add(order({ id: 2, side: 'BUY', tif: 'FOK', price: 100, quantity: 6 }))
  assert.deepEqual(log.take(), ['accepted 2', 'expired 2 fok-not-fillable 6'])
  assert.equal(book.order(1)?.open, 5, 'a FOK that cannot fill trades nothing')
  book.add(order({ id: 3, side: 'BUY', tif: 'IOC', price: 100, quantity: 2 }))
  book.add(order({ id: 4, side: 'BUY', tif: 'IOC', price: 99, quantity: 2 }))
  assert.deepEqual(log.take(), [
    'accepted 3',
    'trade#1 1<-3 2@100',
    'filled 3',
    'accepted 4',
    'expired 4 not-filled-at-once 2',
  ])
  book.add(order({ id: 5, side: 'BUY', type: 'market', quantity: 5 }))
  assert.deepEqual(log.take(), ['accepted 5', 'trade#2 1<-5 3@100', 'filled 1', 'expired 5 not-filled-at-once 2'])
  assert.equal(book.size, 0, 'nothing rests')
})

test('post-only rests or is rejected; it never takes liquidity', () => {
  const log = new Log()
  const book = new OrderBook(log)
  book.add(order({ id: 1, side: 'SELL', price: 100 }))
  log.take()
  assert.equal(book.add(order({ id: 2, side: 'BUY', price: 100, postOnly: true })), false)
  assert.equal(book.add(order({ id: 3, side: 'BUY', price: 99, postOnly: true })), true)
  assert.deepEqual(log.take(), ['rejected 2 post-only-would-trade', 'accepted 3'])
  assert.equal(book.modify(3, '', 100, 1, 9), false, 'nor when modified to cross')
  assert.deepEqual(log.take(), ['rejected 3 post-only-would-trade'])
  assert.equal(book.order(3)?.price, 99)
})

test('modify: less at the same price keeps the queue place; a new price or more re-queues and may trade', () => {
  const log = new Log()
  const book = new OrderBook(log)
  book.add(order({ id: 1, side: 'BUY', price: 100, quantity: 5 }))
  book.add(order({ id: 2, side: 'BUY', price: 100, quantity: 5 }))
  book.modify(1, '', 100, 3, 10)
  book.add(order({ id: 3, side: 'SELL', price: 100, quantity: 1 }))
  assert.deepEqual(log.take().slice(-4), ['modified 1 kept', 'accepted 3', 'trade#1 1<-3 1@100', 'filled 3'])
  // Raising the quantity re-queues behind order 2.
  book.modify(1, '', 100, 6, 11)
  book.add(order({ id: 4, side: 'SELL', price: 100, quantity: 1 }))
  assert.deepEqual(log.take(), ['modified 1 requeued', 'accepted 4', 'trade#2 2<-4 1@100', 'filled 4'])
  assert.equal(book.order(1)?.open, 5, 'quantity 6 less the 1 filled')
  // A new price that crosses trades as the aggressor, at the resting price.
  book.add(order({ id: 5, side: 'SELL', price: 102, quantity: 2 }))
  log.take()
  book.modify(2, '', 103, 4, 12)
  assert.deepEqual(log.take(), ['modified 2 requeued', 'trade#3 5<-2 2@102', 'filled 5'])
  assert.deepEqual(book.depth('BUY'), [
    [103, 1, 1],
    [100, 5, 1],
  ])
  // The total can go down to just above what was filled, not to it.
  assert.equal(book.modify(2, '', 103, 3, 13), false)
  assert.deepEqual(log.take(), ['rejected 2 quantity-not-above-filled'])
  // A move that trades in part rests the rest; one that fills entirely leaves the book.
  assert.equal(book.order(2)?.open, 1)
  book.add(order({ id: 6, side: 'SELL', price: 104, quantity: 7 }))
  log.take()
  book.modify(1, '', 104, 6, 14)
  assert.deepEqual(log.take(), ['modified 1 requeued', 'trade#4 6<-1 5@104', 'filled 1'])
  assert.equal(book.order(1), undefined)
  assert.equal(book.cancel(1, '', 15), false)
  assert.equal(book.size, 2, 'orders 2 and 6')
  book.modify(2, '', 104, 6, 16)
  assert.deepEqual(log.take(), ['rejected 1 unknown-order', 'modified 2 requeued', 'trade#5 6<-2 2@104', 'filled 6'])
  assert.equal(book.order(2)?.open, 1)
  assert.deepEqual(book.depth('BUY'), [[104, 1, 1]])
  assert.equal(book.size, 1)
})

test('self-trade prevention by trader: expire the taker, the maker, or both', () => {
  const cases = {
    'expire-taker': ['accepted 3', 'trade#1 1<-3 1@100', 'expired 3 self-trade 2'],
    'expire-maker': [
      'accepted 3',
      'trade#1 1<-3 1@100',
      'expired 2 self-trade 1',
      'trade#2 4<-3 1@100',
      'filled 4',
      'expired 3 not-filled-at-once 1',
    ],
    'expire-both': ['accepted 3', 'trade#1 1<-3 1@100', 'expired 2 self-trade 1', 'expired 3 self-trade 2'],
    none: [
      'accepted 3',
      'trade#1 1<-3 1@100',
      'trade#2 2<-3 1@100',
      'filled 2',
      'trade#3 4<-3 1@100',
      'filled 4',
      'filled 3',
    ],
  } as const
  for (const [selfTrade, expected] of Object.entries(cases)) {
    const log = new Log()
    const book = new OrderBook(log, { selfTrade: selfTrade as keyof typeof cases })
    book.add(order({ id: 1, side: 'SELL', trader: 'x', quantity: 1 }))
    book.add(order({ id: 2, side: 'SELL', trader: 'me', quantity: 1 }))
    book.add(order({ id: 4, side: 'SELL', trader: 'y', quantity: 1 }))
    log.take()
    book.add(order({ id: 3, side: 'BUY', trader: 'me', tif: 'IOC', quantity: 3 }))
    assert.deepEqual(
      log.take().filter((l) => !l.startsWith('filled 1')),
      [...expected],
      selfTrade,
    )
  }
})

test('rejections with reasons, never exceptions, and the book unchanged', () => {
  const log = new Log()
  const book = new OrderBook(log)
  book.add(order({ id: 1, side: 'SELL', trader: 'a' }))
  log.take()
  const bad: [NewOrder, string][] = [
    [order({ id: 1, side: 'BUY' }), 'duplicate-order-id'],
    [order({ id: 2, side: 'BUY', quantity: 0 }), 'non-positive-quantity'],
    [order({ id: 3, side: 'BUY', quantity: 1.5 }), 'non-positive-quantity'],
    [order({ id: 4, side: 'BUY', price: 0 }), 'non-positive-price'],
    [order({ id: 5, side: 'BUY', price: Number.NaN }), 'missing-price'],
    [order({ id: 6, side: 'HOLD' as 'BUY' }), 'invalid-order'],
    [order({ id: 7, side: 'BUY', tif: 'DAY' as 'GTC' }), 'invalid-order'],
    [order({ id: 1.5, side: 'BUY' }), 'invalid-order-id'],
  ]
  for (const [o, reason] of bad) {
    assert.equal(book.add(o), false)
    assert.deepEqual(log.take(), [`rejected ${o.id} ${reason}`])
  }
  assert.equal(book.cancel(99, '', 0), false)
  assert.equal(book.cancel(1, 'b', 0), false)
  assert.equal(book.modify(99, '', 100, 1, 0), false)
  assert.deepEqual(log.take(), ['rejected 99 unknown-order', 'rejected 1 not-order-owner', 'rejected 99 unknown-order'])
  assert.deepEqual(book.depth('SELL'), [[100, 1, 1]])
  assert.equal(book.cancel(1, 'a', 0), true)
  assert.equal(book.size, 0)
})

test('level updates report each changed level with its open quantity, 0 when it empties', () => {
  const levels: string[] = []
  class L extends BookListener {
    override level(side: string, price: number, open: number, orders: number): void {
      levels.push(`${side} ${price} ${open}/${orders}`)
    }
  }
  const book = new OrderBook(new L())
  book.add(order({ id: 1, side: 'SELL', price: 101, quantity: 2 }))
  book.add(order({ id: 2, side: 'SELL', price: 102, quantity: 2 }))
  book.add(order({ id: 3, side: 'BUY', price: 102, quantity: 3 }))
  book.cancel(2, '', 0)
  assert.deepEqual(levels, ['SELL 101 2/1', 'SELL 102 2/1', 'SELL 101 0/0', 'SELL 102 1/1', 'SELL 102 0/0'])
})

test('many levels stay sorted as they come and go out of order', () => {
  const book = new OrderBook()
  const prices = [50, 10, 30, 70, 20, 60, 40]
  prices.forEach((p, i) => book.add(order({ id: i + 1, side: 'BUY', price: p })))
  prices.forEach((p, i) => book.add(order({ id: 100 + i, side: 'SELL', price: p + 100 })))
  assert.deepEqual(
    book.depth('BUY').map(([p]) => p),
    [70, 60, 50, 40, 30, 20, 10],
  )
  assert.deepEqual(
    book.depth('SELL', 3).map(([p]) => p),
    [110, 120, 130],
  )
  book.cancel(3, '', 0) // 30, in the middle
  book.cancel(4, '', 0) // 70, the best
  assert.deepEqual(
    book.depth('BUY').map(([p]) => p),
    [60, 50, 40, 20, 10],
  )
})

test('a side of many levels is a ladder: the next best level across empty stretches, regrown, then wide', () => {
  for (const side of ['BUY', 'SELL'] as const) {
    const book = new OrderBook()
    const levels = side === 'BUY' ? book.bids : book.asks
    const best = () => (side === 'BUY' ? book.bestBid() : book.bestAsk())
    // 16 levels 40 ticks apart: more than a bitmap word between neighbours.
    const prices = Array.from({ length: 16 }, (_, k) => 10_000 + 40 * k)
    prices.forEach((p, k) => book.add(order({ id: k + 1, side, price: p })))
    assert.equal(levels.layout, 'ladder')
    const bestFirst = side === 'BUY' ? [...prices].reverse() : prices
    assert.deepEqual(
      book.depth(side).map(([p]) => p),
      bestFirst,
    )
    // Take the best away one level at a time: the next is found each time, down to none.
    for (const p of bestFirst) {
      assert.equal(best(), p)
      book.cancel(prices.indexOf(p) + 1, '', 0)
    }
    assert.equal(best(), undefined)
    assert.deepEqual(book.depth(side), [])
    // An emptied ladder is used again, and grows to take prices beyond it.
    book.add(order({ id: 100, side, price: 10_300 }))
    book.add(order({ id: 101, side, price: 4_000 }))
    book.add(order({ id: 102, side, price: 15_000 }))
    assert.equal(levels.layout, 'ladder')
    assert.equal(best(), side === 'BUY' ? 15_000 : 4_000)
    // A band wider than a ladder holds: the side goes wide, in the same order.
    book.add(order({ id: 103, side, price: 40_000 }))
    assert.equal(levels.layout, 'wide')
    const expected = side === 'BUY' ? [40_000, 15_000, 10_300, 4_000] : [4_000, 10_300, 15_000, 40_000]
    assert.deepEqual(
      book.depth(side).map(([p]) => p),
      expected,
    )
    // And it still trades through them best first.
    book.add(order({ id: 104, side: side === 'BUY' ? 'SELL' : 'BUY', type: 'market', quantity: 3 }))
    assert.deepEqual(
      book.depth(side).map(([p]) => p),
      expected.slice(3),
    )
  }
})

test('bitmap search: the highest set bit below and the lowest above a position, as a scan finds them', () => {
  const rnd = new Random('bits')
  for (let round = 0; round < 200; round++) {
    const bits = new Uint32Array(rnd.int(1, 6))
    const n = bits.length * 32
    const density = rnd.next() * 0.2
    for (let i = 0; i < n; i++)
      if (rnd.next() < density || (round % 7 === 0 && i % 32 === 31)) bits[i >>> 5] |= 1 << (i & 31)
    const set = (i: number) => (bits[i >>> 5] & (1 << (i & 31))) !== 0
    for (let at = 0; at < n; at++) {
      let below = -1
      for (let i = at - 1; i >= 0 && below < 0; i--) if (set(i)) below = i
      let above = -1
      for (let i = at + 1; i < n && above < 0; i++) if (set(i)) above = i
      assert.equal(highestBelow(bits, at), below, `below ${at}`)
      assert.equal(lowestAbove(bits, at), above, `above ${at}`)
    }
  }
})
