/**
 * The matching engine's vocabulary: sides, order types, time in force, self-trade prevention,
 * the reasons an order is rejected or expired, and the events a book reports. Inside the engine
 * prices are integer ticks and quantities integer lots (exact in a Number up to 2^53); the
 * exchange (exchange.ts) converts to and from an instrument's decimal units.
 */

export type Side = 'BUY' | 'SELL'

/** A limit order rests at its price when not filled; a market order takes any price and never rests. */
export type OrderType = 'limit' | 'market'

/**
 * GTC rests until filled or cancelled; IOC fills what it can at once and expires the rest; FOK
 * fills entirely at once or expires without trading.
 */
export type TimeInForce = 'GTC' | 'IOC' | 'FOK'

/**
 * What happens when an order would trade with a resting order of the same trader: the incoming
 * order's remainder expires (`expire-taker`), the resting order expires and matching goes on
 * (`expire-maker`), or both expire (`expire-both`). `none` lets a trader trade with itself.
 */
export type SelfTradePrevention = 'expire-taker' | 'expire-maker' | 'expire-both' | 'none'

export const SELF_TRADE_MODES: readonly SelfTradePrevention[] = ['expire-taker', 'expire-maker', 'expire-both', 'none']

/** Why an order or a request is rejected: stable codes, for programs to read. */
export const RejectReasons = {
  UNKNOWN_INSTRUMENT: 'unknown-instrument',
  NON_POSITIVE_QUANTITY: 'non-positive-quantity',
  QUANTITY_OFF_LOT: 'quantity-off-lot',
  PRICE_OFF_TICK: 'price-off-tick',
  NON_POSITIVE_PRICE: 'non-positive-price',
  MISSING_PRICE: 'missing-price',
  UNKNOWN_ORDER: 'unknown-order',
  NOT_ORDER_OWNER: 'not-order-owner',
  DUPLICATE_ORDER_ID: 'duplicate-order-id',
  INVALID_ORDER_ID: 'invalid-order-id',
  POST_ONLY_WOULD_TRADE: 'post-only-would-trade',
  QUANTITY_NOT_ABOVE_FILLED: 'quantity-not-above-filled',
  INVALID_ORDER: 'invalid-order',
} as const

export type RejectReason = (typeof RejectReasons)[keyof typeof RejectReasons]

/** Why an order stopped without being filled or cancelled by its trader. */
export const ExpireReasons = {
  /** The rest of an IOC or market order that found nothing more to trade with. */
  NOT_FILLED_AT_ONCE: 'not-filled-at-once',
  /** A FOK order that could not be filled entirely. */
  FOK_NOT_FILLABLE: 'fok-not-fillable',
  /** Self-trade prevention. */
  SELF_TRADE: 'self-trade',
} as const

export type ExpireReason = (typeof ExpireReasons)[keyof typeof ExpireReasons]

/** An order as the book holds it; listeners read it during the call and must not keep it. */
export interface OrderState {
  readonly id: number
  readonly trader: string
  readonly side: Side
  readonly type: OrderType
  readonly tif: TimeInForce
  readonly postOnly: boolean
  /** Limit price in ticks (0 for a market order). */
  readonly price: number
  /** Total quantity in lots (what was ordered, or modified to). */
  readonly quantity: number
  /** Quantity still open, in lots. */
  readonly open: number
  /** Quantity filled so far, in lots. */
  readonly filled: number
  /** The time the order (or its last re-queueing modification) came in, as the command said. */
  readonly ts: number
}

/** A new order, in ticks and lots. */
export interface NewOrder {
  id: number
  trader: string
  side: Side
  type: OrderType
  tif: TimeInForce
  postOnly?: boolean
  /** Limit price in ticks; ignored for market orders. */
  price: number
  /** Quantity in lots. */
  quantity: number
  /** Event time of the command (epoch ms); the engine never reads a clock. */
  ts: number
}

/**
 * What a book reports, in order, while it handles a command. Every method has a no-op default in
 * {@link BookListener}; a listener overrides what it needs.
 */
export interface BookEvents {
  /** An order passed validation (before it trades). */
  accepted(order: OrderState): void
  /** A command was refused; nothing changed. `id` is the order id the command named. */
  rejected(id: number, trader: string, reason: RejectReason, ts: number): void
  /** A trade at the maker's price; `seq` counts the book's trades from 1. */
  trade(seq: number, maker: OrderState, taker: OrderState, price: number, quantity: number, ts: number): void
  /** An order is filled entirely. */
  filled(order: OrderState, ts: number): void
  /** An order was cancelled by its trader. */
  cancelled(order: OrderState, ts: number): void
  /** An order's open quantity expired (see {@link ExpireReasons}). */
  expired(order: OrderState, reason: ExpireReason, ts: number): void
  /** A resting order was modified; `requeued` when it lost its queue position. */
  modified(order: OrderState, requeued: boolean, ts: number): void
  /** The open quantity at a price level changed (0: the level is gone). */
  level(side: Side, price: number, open: number, orders: number): void
}

/** A listener that ignores everything: extend it and override what is needed. */
export class BookListener implements BookEvents {
  accepted(_order: OrderState): void {}
  rejected(_id: number, _trader: string, _reason: RejectReason, _ts: number): void {}
  trade(_seq: number, _maker: OrderState, _taker: OrderState, _price: number, _quantity: number, _ts: number): void {}
  filled(_order: OrderState, _ts: number): void {}
  cancelled(_order: OrderState, _ts: number): void {}
  expired(_order: OrderState, _reason: ExpireReason, _ts: number): void {}
  modified(_order: OrderState, _requeued: boolean, _ts: number): void {}
  level(_side: Side, _price: number, _open: number, _orders: number): void {}
}
