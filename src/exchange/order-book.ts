/**
 * A price-time-priority limit order book for one instrument, in integer ticks and lots.
 *
 * Structure: each side holds its price levels by how many there are and how wide a band of prices
 * they span (see BookSide): a short sorted array searched from the top, a ladder indexed by price,
 * or a sorted array with a `Map` from price to level. Each level holds its orders in an intrusive
 * doubly-linked list in arrival order; a hash table from order id to order (IdIndex) makes cancel
 * and modify O(1). Nothing is allocated per command on the paths that do not create an order or a
 * price level.
 *
 * Rules: trades happen at the resting (maker) order's price; an incoming order trades with the
 * best level first and, within a level, with the earliest order first. A modification that only
 * lowers the quantity at the same price keeps the order's place in the queue; one that changes
 * the price or raises the quantity puts it at the back of its (new) level and may trade at once
 * (the Eurex rule). Self-trade prevention compares traders (an empty trader is nobody's).
 *
 * Every request either changes the book and reports what happened through the listener, or is
 * rejected with a reason and changes nothing; nothing throws for bad input. Deterministic: the
 * same commands give the same events, whatever the clock.
 */
import { IdIndex } from './id-index.ts'
import {
  BookListener,
  ExpireReasons,
  RejectReasons,
  type BookEvents,
  type NewOrder,
  type OrderState,
  type OrderType,
  type RejectReason,
  type SelfTradePrevention,
  type Side,
  type TimeInForce,
} from './types.ts'

class Order implements OrderState {
  id: number
  trader: string
  side: Side
  type: OrderType
  tif: TimeInForce
  postOnly: boolean
  price: number
  quantity: number
  open: number
  filled = 0
  ts: number
  prev: Order | null = null
  next: Order | null = null
  level: Level | null = null

  constructor(o: NewOrder) {
    this.id = o.id
    this.trader = o.trader
    this.side = o.side
    this.type = o.type
    this.tif = o.tif
    this.postOnly = o.postOnly === true
    this.price = o.type === 'market' ? 0 : o.price
    this.quantity = o.quantity
    this.open = o.quantity
    this.ts = o.ts
  }
}

class Level {
  /** Set once, or again when a side reuses its spare level. */
  price: number
  head: Order | null = null
  tail: Order | null = null
  open = 0
  count = 0

  constructor(price: number) {
    this.price = price
  }

  push(o: Order): void {
    o.level = this
    o.prev = this.tail
    o.next = null
    if (this.tail === null) this.head = o
    else this.tail.next = o
    this.tail = o
    this.open += o.open
    this.count++
  }

  unlink(o: Order): void {
    if (o.prev === null) this.head = o.next
    else o.prev.next = o.next
    if (o.next === null) this.tail = o.prev
    else o.next.prev = o.prev
    o.prev = o.next = o.level = null
    this.open -= o.open
    this.count--
  }
}

/** Levels a side holds before it indexes them by price (below that, a scan from the top is faster). */
const INDEX_FROM = 16
/** The widest price band, in ticks, a side keeps as a ladder (an array indexed by price). */
const LADDER_MAX = 1 << 14

/**
 * One side's price levels, held in one of three ways as the side grows:
 * - few levels (under {@link INDEX_FROM}): `levels`, sorted with the best last, searched from the top;
 * - a ladder: once there are more, and while their band spans at most {@link LADDER_MAX} ticks, an
 *   array indexed by price less `base`, with a bitmap of the slots that hold orders (for the next
 *   best level when the best empties). Emptied levels stay in their slots to be used again;
 * - wide: a band too wide for a ladder keeps `levels` sorted, with a `Map` from price to level
 *   beside it; emptied levels stay in place to be used again until they reach the top or outnumber
 *   the others, so orders coming and going over the same prices do not shift the array.
 * A side moves from few to ladder or wide, and from ladder to wide; never back. A ladder holds at
 * most {@link LADDER_MAX} level objects, and drops the emptied ones outside its band when it regrows.
 */
class BookSide {
  readonly side: Side
  /** Few and wide: the levels, best last; the best one is never empty. Unused by a ladder. */
  private levels: Level[] = []
  /** Wide: the levels by price. */
  private byPrice: Map<number, Level> | null = null
  /** Wide: emptied levels still in `levels`. */
  private empty = 0
  /** Few and wide: the last level to leave the top, reused by the next new level. */
  private spare: Level | null = null
  /** Ladder: the level at price `base + i` in slot i (undefined: none yet). */
  private ladder: (Level | undefined)[] | null = null
  /** Ladder: bit i set when slot i holds orders. */
  private bits = EMPTY_BITS
  private base = 0
  /** Ladder: the best level's slot, -1 when the side is empty. */
  private top = -1

  constructor(side: Side) {
    this.side = side
  }

  /** How the levels are held (see the class comment). */
  get layout(): 'few' | 'ladder' | 'wide' {
    return this.ladder !== null ? 'ladder' : this.byPrice !== null ? 'wide' : 'few'
  }

  best(): Level | undefined {
    if (this.ladder !== null) return this.top < 0 ? undefined : this.ladder[this.top]
    return this.levels[this.levels.length - 1]
  }

  /** Whether a level at `a` is better than one at `b` for this side. */
  better(a: number, b: number): boolean {
    return this.side === 'BUY' ? a > b : a < b
  }

  /** The level at `price`, created when missing; an emptied one is used again. The caller adds an order to it. */
  levelAt(price: number): Level {
    const ladder = this.ladder
    if (ladder !== null) {
      const slot = price - this.base
      if (slot >= 0 && slot < ladder.length) {
        let level = ladder[slot]
        if (level === undefined) level = ladder[slot] = new Level(price)
        if (level.count === 0) this.lit(slot)
        return level
      }
      this.regrow(price)
      return this.levelAt(price)
    }
    let level = this.find(price)
    if (level !== undefined) {
      if (level.count === 0) this.empty--
      return level
    }
    if (this.spare !== null) {
      level = this.spare
      level.price = price
      this.spare = null
    } else level = new Level(price)
    const levels = this.levels
    const n = levels.length
    if (n === 0 || this.better(price, levels[n - 1].price)) levels.push(level)
    else if (this.byPrice !== null) levels.splice(this.indexBefore(price), 0, level)
    else this.insertFew(level)
    if (this.byPrice !== null) this.byPrice.set(price, level)
    else if (levels.length >= INDEX_FROM) this.index()
    return level
  }

  private find(price: number): Level | undefined {
    if (this.byPrice !== null) return this.byPrice.get(price)
    // From the top down: the levels get worse, so one worse than `price` ends the search.
    const levels = this.levels
    for (let i = levels.length - 1; i >= 0; i--) {
      const at = levels[i].price
      if (at === price) return levels[i]
      if (this.better(price, at)) return undefined
    }
    return undefined
  }

  /** A level has just lost its last order. */
  emptied(level: Level): void {
    if (this.ladder !== null) {
      const slot = level.price - this.base
      this.bits[slot >>> 5] &= ~(1 << (slot & 31))
      if (slot === this.top) this.top = this.worse(slot)
      return
    }
    const levels = this.levels
    if (levels[levels.length - 1] !== level) {
      if (this.byPrice === null) this.removeFew(level)
      else if (++this.empty > 32 && this.empty * 2 > levels.length) this.compact()
      return
    }
    levels.pop()
    this.byPrice?.delete(level.price)
    this.spare = level
    // The empty levels just below it go too: the best level is never empty.
    while (levels.length > 0 && levels[levels.length - 1].count === 0) {
      const gone = levels.pop()!
      this.byPrice?.delete(gone.price)
      this.empty--
    }
  }

  /** The levels that hold orders, best first. */
  *active(): IterableIterator<Level> {
    const ladder = this.ladder
    if (ladder !== null) {
      for (let slot = this.top; slot >= 0; slot = this.worse(slot)) yield ladder[slot]!
      return
    }
    for (let i = this.levels.length - 1; i >= 0; i--) if (this.levels[i].count > 0) yield this.levels[i]
  }

  // Ladder: slot `slot` has just got its first order.
  private lit(slot: number): void {
    this.bits[slot >>> 5] |= 1 << (slot & 31)
    // Slots run the way prices do, so they compare as prices.
    if (this.top < 0 || this.better(slot, this.top)) this.top = slot
  }

  // Ladder: the slot of the next worse level holding orders after `slot`, or -1.
  private worse(slot: number): number {
    return this.side === 'BUY' ? highestBelow(this.bits, slot) : lowestAbove(this.bits, slot)
  }

  // Few levels have become many: a ladder when their band is narrow enough, else wide.
  private index(): void {
    const levels = this.levels
    const a = levels[0].price
    const b = levels[levels.length - 1].price
    if (Math.abs(a - b) < LADDER_MAX) {
      this.levels = []
      this.spare = null
      this.build(levels, Math.min(a, b), Math.max(a, b))
    } else this.wide(levels)
  }

  // Wide from now on, over `levels` (sorted, best last).
  private wide(levels: Level[]): void {
    this.levels = levels
    this.byPrice = new Map(levels.map((l) => [l.price, l]))
  }

  // Ladder: a ladder over at least prices lo..hi, twice as wide when room allows, holding `levels`
  // (the ones with orders, and the newest, which is about to get one).
  private build(levels: Level[], lo: number, hi: number): void {
    const span = hi - lo + 1
    const size = Math.min(LADDER_MAX, Math.max(64, 2 ** Math.ceil(Math.log2(2 * span))))
    this.base = lo - ((size - span) >>> 1)
    this.ladder = new Array<Level | undefined>(size).fill(undefined)
    this.bits = new Uint32Array((size + 31) >>> 5)
    this.top = -1
    for (const l of levels) {
      const slot = l.price - this.base
      this.ladder[slot] = l
      this.lit(slot)
    }
  }

  // Ladder: `price` is outside it. The levels with orders and `price` make a new ladder, or the
  // side goes wide when they span too many ticks. Emptied levels outside them are dropped.
  private regrow(price: number): void {
    const live = [...this.active()]
    let lo = price
    let hi = price
    for (const l of live) {
      if (l.price < lo) lo = l.price
      if (l.price > hi) hi = l.price
    }
    if (hi - lo < LADDER_MAX) {
      this.build(live, lo, hi)
      return
    }
    this.ladder = null
    this.bits = EMPTY_BITS
    this.top = -1
    this.wide(live.reverse())
  }

  // A side of a few levels, found by a scan: the better ones shift up by one (splice would
  // allocate its result).
  private insertFew(level: Level): void {
    const levels = this.levels
    let j = levels.length
    levels.push(level)
    for (; j > 0 && this.better(levels[j - 1].price, level.price); j--) levels[j] = levels[j - 1]
    levels[j] = level
  }

  // A side of a few levels drops an emptied one at once: kept, it would only lengthen the scan.
  private removeFew(level: Level): void {
    const levels = this.levels
    let i = levels.length - 2
    while (levels[i] !== level) i--
    for (; i < levels.length - 1; i++) levels[i] = levels[i + 1]
    levels.pop()
    this.spare = level
  }

  private compact(): void {
    let w = 0
    const levels = this.levels
    for (let i = 0; i < levels.length; i++) {
      if (levels[i].count > 0) levels[w++] = levels[i]
      else this.byPrice?.delete(levels[i].price)
    }
    levels.length = w
    this.empty = 0
  }

  // The index of the first level not worse than `price` (levels before it are worse).
  private indexBefore(price: number): number {
    const levels = this.levels
    let lo = 0
    let hi = levels.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.better(price, levels[mid].price)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

const EMPTY_BITS = new Uint32Array(0)

/** The highest set bit of `bits` below bit `at`, or -1. */
export function highestBelow(bits: Uint32Array, at: number): number {
  let w = at >>> 5
  // (1 << 31) - 1 wraps to 0x7fffffff under the bitwise and, as wanted.
  let m = bits[w] & ((1 << (at & 31)) - 1)
  while (m === 0) {
    if (--w < 0) return -1
    m = bits[w]
  }
  return (w << 5) + 31 - Math.clz32(m)
}

/** The lowest set bit of `bits` above bit `at`, or -1. */
export function lowestAbove(bits: Uint32Array, at: number): number {
  let w = at >>> 5
  // For bit 31, 2 << 31 wraps to 0 and the mask to 0: nothing above it in this word.
  let m = bits[w] & ~((2 << (at & 31)) - 1)
  while (m === 0) {
    if (++w >= bits.length) return -1
    m = bits[w]
  }
  return (w << 5) + 31 - Math.clz32(m & -m)
}

/** A resting order in a snapshot, in queue order. */
export interface SnapshotOrder {
  id: number
  trader: string
  side: Side
  tif: TimeInForce
  postOnly: boolean
  price: number
  quantity: number
  open: number
  filled: number
  ts: number
}

/** A book's whole state, as plain data: restoring it gives a book that behaves the same. */
export interface BookSnapshot {
  tradeSeq: number
  /** Bids best first, each level's orders in queue order; then asks the same way. */
  bids: SnapshotOrder[]
  asks: SnapshotOrder[]
}

export interface OrderBookOptions {
  selfTrade?: SelfTradePrevention
}

const isLots = (n: number): boolean => Number.isSafeInteger(n) && n > 0
const isTicks = (n: number): boolean => Number.isSafeInteger(n) && n > 0
const isId = (n: number): boolean => Number.isSafeInteger(n)

export class OrderBook {
  readonly bids = new BookSide('BUY')
  readonly asks = new BookSide('SELL')
  readonly selfTrade: SelfTradePrevention
  private readonly orders = new IdIndex<Order>()
  private readonly events: BookEvents
  private tradeSeq = 0

  constructor(events: BookEvents = new BookListener(), options: OrderBookOptions = {}) {
    this.events = events
    this.selfTrade = options.selfTrade ?? 'expire-taker'
  }

  /** Trades so far (the last trade's `seq`). */
  get trades(): number {
    return this.tradeSeq
  }

  /** Resting orders. */
  get size(): number {
    return this.orders.size
  }

  /** A resting order by id. */
  order(id: number): OrderState | undefined {
    return this.orders.get(id)
  }

  /** The best bid and ask prices in ticks (undefined for an empty side). */
  bestBid(): number | undefined {
    return this.bids.best()?.price
  }

  bestAsk(): number | undefined {
    return this.asks.best()?.price
  }

  /** Up to `levels` levels of a side, best first: [price, open quantity, orders]. */
  depth(side: Side, levels = Infinity): [number, number, number][] {
    const out: [number, number, number][] = []
    for (const l of (side === 'BUY' ? this.bids : this.asks).active()) {
      if (out.length >= levels) break
      out.push([l.price, l.open, l.count])
    }
    return out
  }

  /** Places a new order: validates it, trades it, rests what is left of a GTC limit order. */
  add(cmd: NewOrder): boolean {
    const ev = this.events
    const reason = this.validateNew(cmd)
    if (reason !== undefined) {
      ev.rejected(cmd.id, cmd.trader, reason, cmd.ts)
      return false
    }
    const o = new Order(cmd)
    const opposite = o.side === 'BUY' ? this.asks : this.bids
    const limit = o.type === 'market' ? undefined : o.price
    if (o.postOnly) {
      const best = opposite.best()
      if (best !== undefined && crosses(o.side, best.price, o.price)) {
        ev.rejected(o.id, o.trader, RejectReasons.POST_ONLY_WOULD_TRADE, o.ts)
        return false
      }
    }
    ev.accepted(o)
    if (o.tif === 'FOK' && !this.fillable(o, opposite, limit)) {
      ev.expired(o, ExpireReasons.FOK_NOT_FILLABLE, o.ts)
      return true
    }
    if (this.execute(o, opposite, limit, o.ts)) this.rest(o, false)
    return true
  }

  /** Cancels a resting order. */
  cancel(id: number, trader: string, ts: number): boolean {
    const o = this.orders.get(id)
    const reason = o === undefined ? RejectReasons.UNKNOWN_ORDER : ownerCheck(o, trader)
    if (reason !== undefined || o === undefined) {
      this.events.rejected(id, trader, reason ?? RejectReasons.UNKNOWN_ORDER, ts)
      return false
    }
    this.removeResting(o)
    this.events.cancelled(o, ts)
    return true
  }

  /**
   * Modifies a resting order's price (ticks) and total quantity (lots; filled included). Lowering
   * the quantity at the same price keeps its queue position; anything else re-queues it, and it
   * may trade.
   */
  modify(id: number, trader: string, price: number, quantity: number, ts: number): boolean {
    const ev = this.events
    const o = this.orders.get(id)
    const reason =
      o === undefined
        ? RejectReasons.UNKNOWN_ORDER
        : (ownerCheck(o, trader) ??
          (!isLots(quantity)
            ? RejectReasons.NON_POSITIVE_QUANTITY
            : !isTicks(price)
              ? RejectReasons.NON_POSITIVE_PRICE
              : quantity <= o.filled
                ? RejectReasons.QUANTITY_NOT_ABOVE_FILLED
                : undefined))
    if (reason !== undefined || o === undefined) {
      ev.rejected(id, trader, reason ?? RejectReasons.UNKNOWN_ORDER, ts)
      return false
    }
    const side = o.side === 'BUY' ? this.bids : this.asks
    const opposite = o.side === 'BUY' ? this.asks : this.bids
    if (price === o.price && quantity <= o.quantity) {
      const level = o.level!
      const less = o.quantity - quantity
      o.quantity = quantity
      o.open -= less
      level.open -= less
      ev.modified(o, false, ts)
      if (less > 0) ev.level(o.side, level.price, level.open, level.count)
      return true
    }
    if (o.postOnly) {
      const best = opposite.best()
      if (best !== undefined && crosses(o.side, best.price, price)) {
        ev.rejected(id, trader, RejectReasons.POST_ONLY_WOULD_TRADE, ts)
        return false
      }
    }
    const level = o.level!
    level.unlink(o)
    if (level.count === 0) side.emptied(level)
    ev.level(o.side, level.price, level.open, level.count)
    o.price = price
    o.quantity = quantity
    o.open = quantity - o.filled
    o.ts = ts
    ev.modified(o, true, ts)
    // It stays in `orders` while it trades (nothing there can reach it) and leaves if it does not rest.
    if (this.execute(o, opposite, price, ts)) this.rest(o, true)
    else this.orders.delete(o.id)
    return true
  }

  /** The whole state as plain data. */
  snapshot(): BookSnapshot {
    const sideOrders = (s: BookSide): SnapshotOrder[] => {
      const out: SnapshotOrder[] = []
      for (const level of s.active()) {
        for (let o = level.head; o !== null; o = o.next) {
          out.push({
            id: o.id,
            trader: o.trader,
            side: o.side,
            tif: o.tif,
            postOnly: o.postOnly,
            price: o.price,
            quantity: o.quantity,
            open: o.open,
            filled: o.filled,
            ts: o.ts,
          })
        }
      }
      return out
    }
    return { tradeSeq: this.tradeSeq, bids: sideOrders(this.bids), asks: sideOrders(this.asks) }
  }

  /** A book in the state of `snapshot` (reporting to `events` from then on). */
  static restore(snapshot: BookSnapshot, events?: BookEvents, options?: OrderBookOptions): OrderBook {
    const book = new OrderBook(events, options)
    book.tradeSeq = snapshot.tradeSeq
    for (const s of [...snapshot.bids, ...snapshot.asks]) {
      const o = new Order({ ...s, type: 'limit' })
      o.open = s.open
      o.filled = s.filled
      const level = (o.side === 'BUY' ? book.bids : book.asks).levelAt(o.price)
      level.push(o)
      book.orders.set(o.id, o)
    }
    return book
  }

  private validateNew(cmd: NewOrder): RejectReason | undefined {
    if (!isId(cmd.id)) return RejectReasons.INVALID_ORDER_ID
    if (this.orders.has(cmd.id)) return RejectReasons.DUPLICATE_ORDER_ID
    if (cmd.side !== 'BUY' && cmd.side !== 'SELL') return RejectReasons.INVALID_ORDER
    if (cmd.type !== 'limit' && cmd.type !== 'market') return RejectReasons.INVALID_ORDER
    if (cmd.tif !== 'GTC' && cmd.tif !== 'IOC' && cmd.tif !== 'FOK') return RejectReasons.INVALID_ORDER
    if (!isLots(cmd.quantity)) return RejectReasons.NON_POSITIVE_QUANTITY
    if (cmd.type === 'limit') {
      if (typeof cmd.price !== 'number' || Number.isNaN(cmd.price)) return RejectReasons.MISSING_PRICE
      if (!isTicks(cmd.price)) return RejectReasons.NON_POSITIVE_PRICE
    } else if (cmd.postOnly === true) return RejectReasons.INVALID_ORDER
    return undefined
  }

  // Whether `o` can be filled entirely now (FOK), self-trade prevention included.
  private fillable(o: Order, opposite: BookSide, limit: number | undefined): boolean {
    let need = o.open
    const stp = this.selfTrade !== 'none' && o.trader !== ''
    for (const level of opposite.active()) {
      if (limit !== undefined && !crosses(o.side, level.price, limit)) return false
      if (!stp) {
        need -= level.open
        if (need <= 0) return true
        continue
      }
      for (let m = level.head; m !== null; m = m.next) {
        if (m.trader === o.trader) {
          if (this.selfTrade === 'expire-maker') continue
          return false
        }
        need -= m.open
        if (need <= 0) return true
      }
    }
    return false
  }

  // Trades `o` against the opposite side; then either reports its end (filled, or expired) or,
  // for what is left of a GTC limit order, returns true: it is to rest.
  private execute(o: Order, opposite: BookSide, limit: number | undefined, ts: number): boolean {
    const ev = this.events
    const stp = this.selfTrade !== 'none' && o.trader !== ''
    let takerExpired = false
    while (o.open > 0) {
      const level = opposite.best()
      if (level === undefined || (limit !== undefined && !crosses(o.side, level.price, limit))) break
      let m = level.head
      while (m !== null && o.open > 0) {
        const next: Order | null = m.next
        if (stp && m.trader === o.trader) {
          if (this.selfTrade !== 'expire-taker') {
            level.unlink(m)
            this.orders.delete(m.id)
            ev.expired(m, ExpireReasons.SELF_TRADE, ts)
          }
          if (this.selfTrade !== 'expire-maker') {
            takerExpired = true
            break
          }
          m = next
          continue
        }
        const q = m.open < o.open ? m.open : o.open
        m.open -= q
        m.filled += q
        o.open -= q
        o.filled += q
        level.open -= q
        ev.trade(++this.tradeSeq, m, o, level.price, q, ts)
        if (m.open === 0) {
          level.unlink(m)
          this.orders.delete(m.id)
          ev.filled(m, ts)
        }
        m = next
      }
      if (level.count === 0) opposite.emptied(level)
      ev.level(opposite.side, level.price, level.open, level.count)
      if (takerExpired) break
    }
    if (o.open === 0) {
      ev.filled(o, ts)
      return false
    }
    if (takerExpired) {
      ev.expired(o, ExpireReasons.SELF_TRADE, ts)
      return false
    }
    if (o.type === 'market' || o.tif !== 'GTC') {
      ev.expired(o, ExpireReasons.NOT_FILLED_AT_ONCE, ts)
      return false
    }
    return true
  }

  // Puts `o` at the back of its level; `indexed` when it is in `orders` already (a modification).
  private rest(o: Order, indexed: boolean): void {
    const side = o.side === 'BUY' ? this.bids : this.asks
    const level = side.levelAt(o.price)
    level.push(o)
    if (!indexed) this.orders.set(o.id, o)
    this.events.level(o.side, level.price, level.open, level.count)
  }

  private removeResting(o: Order): void {
    const side = o.side === 'BUY' ? this.bids : this.asks
    const level = o.level!
    level.unlink(o)
    this.orders.delete(o.id)
    if (level.count === 0) side.emptied(level)
    this.events.level(o.side, level.price, level.open, level.count)
  }
}

// A trader may cancel or modify only their own orders (an empty trader is anyone's).
function ownerCheck(o: Order, trader: string): RejectReason | undefined {
  return o.trader !== '' && trader !== '' && trader !== o.trader ? RejectReasons.NOT_ORDER_OWNER : undefined
}

// Whether a resting price `resting` crosses an incoming `side` order's limit.
function crosses(side: Side, resting: number, limit: number): boolean {
  return side === 'BUY' ? resting <= limit : resting >= limit
}
