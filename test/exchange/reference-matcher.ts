/**
 * A deliberately simple matcher for the property tests: resting orders in one array, the best
 * found by sorting on price then arrival on every step. Slow and obvious; the engine must agree
 * with it event for event. Written from the rules (price-time priority, maker price, IOC/FOK/
 * market/post-only, the modify rule, self-trade prevention), not from the engine's code.
 */
import type { SelfTradePrevention, Side } from '../../src/exchange/types.ts'

export interface RefOrder {
  id: number
  trader: string
  side: Side
  price: number
  quantity: number
  open: number
  filled: number
  arrival: number
  postOnly: boolean
}

export type RefCommand =
  | {
      kind: 'new'
      id: number
      trader: string
      side: Side
      type: 'limit' | 'market'
      tif: 'GTC' | 'IOC' | 'FOK'
      postOnly: boolean
      price: number
      quantity: number
    }
  | { kind: 'cancel'; id: number; trader: string }
  | { kind: 'modify'; id: number; trader: string; price: number; quantity: number }

/** What happened, as strings easy to compare: `trade maker taker price qty`, `rejected id reason`, … */
export type RefEvent = string

export class ReferenceMatcher {
  resting: RefOrder[] = []
  private arrivals = 0
  readonly selfTrade: SelfTradePrevention

  constructor(selfTrade: SelfTradePrevention) {
    this.selfTrade = selfTrade
  }

  apply(c: RefCommand): RefEvent[] {
    const out: RefEvent[] = []
    if (c.kind === 'cancel') {
      const o = this.resting.find((r) => r.id === c.id)
      if (o === undefined) return [`rejected ${c.id} unknown-order`]
      if (o.trader !== '' && c.trader !== '' && o.trader !== c.trader) return [`rejected ${c.id} not-order-owner`]
      this.resting = this.resting.filter((r) => r !== o)
      return [`cancelled ${o.id} open=${o.open}`]
    }
    if (c.kind === 'modify') {
      const o = this.resting.find((r) => r.id === c.id)
      if (o === undefined) return [`rejected ${c.id} unknown-order`]
      if (o.trader !== '' && c.trader !== '' && o.trader !== c.trader) return [`rejected ${c.id} not-order-owner`]
      if (c.quantity <= 0) return [`rejected ${c.id} non-positive-quantity`]
      if (c.price <= 0) return [`rejected ${c.id} non-positive-price`]
      if (c.quantity <= o.filled) return [`rejected ${c.id} quantity-not-above-filled`]
      if (c.price === o.price && c.quantity <= o.quantity) {
        o.open -= o.quantity - c.quantity
        o.quantity = c.quantity
        return [`modified ${o.id} kept open=${o.open}`]
      }
      if (o.postOnly) {
        const best = this.bestOpposite(o)
        if (best !== undefined && this.crosses({ ...o, price: c.price }, 'limit', best.price)) {
          return [`rejected ${c.id} post-only-would-trade`]
        }
      }
      this.resting = this.resting.filter((r) => r !== o)
      o.price = c.price
      o.quantity = c.quantity
      o.open = c.quantity - o.filled
      o.arrival = this.arrivals++
      out.push(`modified ${o.id} requeued open=${o.open}`)
      this.match(o, 'limit', 'GTC', out)
      return out
    }
    if (this.resting.some((r) => r.id === c.id)) return [`rejected ${c.id} duplicate-order-id`]
    if (c.quantity <= 0) return [`rejected ${c.id} non-positive-quantity`]
    if (c.type === 'limit' && c.price <= 0) return [`rejected ${c.id} non-positive-price`]
    const o: RefOrder = {
      id: c.id,
      trader: c.trader,
      side: c.side,
      price: c.type === 'market' ? 0 : c.price,
      quantity: c.quantity,
      open: c.quantity,
      filled: 0,
      arrival: this.arrivals++,
      postOnly: c.postOnly && c.type === 'limit',
    }
    if (c.postOnly && c.type === 'limit') {
      const best = this.bestOpposite(o)
      if (best !== undefined && this.crosses(o, 'limit', best.price)) return [`rejected ${c.id} post-only-would-trade`]
    }
    out.push(`accepted ${o.id}`)
    if (c.tif === 'FOK' && !this.fillable(o, c.type)) {
      out.push(`expired ${o.id} fok-not-fillable open=${o.open}`)
      return out
    }
    this.match(o, c.type, c.tif, out)
    return out
  }

  private opposite(o: RefOrder): RefOrder[] {
    const sign = o.side === 'BUY' ? 1 : -1
    // Best first: lowest ask / highest bid, then earliest.
    return this.resting
      .filter((r) => r.side !== o.side)
      .sort((a, b) => sign * (a.price - b.price) || a.arrival - b.arrival)
  }

  private bestOpposite(o: RefOrder): RefOrder | undefined {
    return this.opposite(o)[0]
  }

  private crosses(o: RefOrder, type: 'limit' | 'market', price: number): boolean {
    if (type === 'market') return true
    return o.side === 'BUY' ? price <= o.price : price >= o.price
  }

  private fillable(o: RefOrder, type: 'limit' | 'market'): boolean {
    let need = o.open
    for (const m of this.opposite(o)) {
      if (!this.crosses(o, type, m.price)) return false
      if (this.selfTrade !== 'none' && o.trader !== '' && m.trader === o.trader) {
        if (this.selfTrade === 'expire-maker') continue
        return false
      }
      need -= m.open
      if (need <= 0) return true
    }
    return false
  }

  private match(o: RefOrder, type: 'limit' | 'market', tif: string, out: RefEvent[]): void {
    for (;;) {
      if (o.open === 0) break
      const m = this.bestOpposite(o)
      if (m === undefined || !this.crosses(o, type, m.price)) break
      if (this.selfTrade !== 'none' && o.trader !== '' && m.trader === o.trader) {
        if (this.selfTrade !== 'expire-taker') {
          this.resting = this.resting.filter((r) => r !== m)
          out.push(`expired ${m.id} self-trade open=${m.open}`)
        }
        if (this.selfTrade !== 'expire-maker') {
          out.push(`expired ${o.id} self-trade open=${o.open}`)
          return
        }
        continue
      }
      const q = Math.min(m.open, o.open)
      m.open -= q
      m.filled += q
      o.open -= q
      o.filled += q
      out.push(`trade maker=${m.id} taker=${o.id} price=${m.price} qty=${q}`)
      if (m.open === 0) {
        this.resting = this.resting.filter((r) => r !== m)
        out.push(`filled ${m.id}`)
      }
    }
    if (o.open === 0) out.push(`filled ${o.id}`)
    else if (type === 'market' || tif !== 'GTC') out.push(`expired ${o.id} not-filled-at-once open=${o.open}`)
    else this.resting.push(o)
  }
}
