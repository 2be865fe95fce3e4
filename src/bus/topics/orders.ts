/**
 * The `orders` topic: `{"id":1000001,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15.0,
 * "order_timestamp":"2023/03/12, 23:48:37"}` plus optional `trader`, `type` (limit/market), `tif`
 * (GTC/IOC/FOK) and `action` (new/cancel/modify); key = instrument.
 */
import { z } from 'zod'
import { formatOrderTs, parseOrderTs } from '../time.ts'
import { decodeJson } from './json.ts'
import type { TopicType } from './types.ts'

export type OrderSide = 'BUY' | 'SELL'
export type OrderType = 'limit' | 'market'
export type TimeInForce = 'GTC' | 'IOC' | 'FOK'
export type OrderAction = 'new' | 'cancel' | 'modify'

/** One message of the `orders` topic; `order_timestamp` is `yyyy/mm/dd, hh:mm:ss` UTC. */
export interface Order {
  id: number
  instrument: string
  trxn_type: OrderSide
  quantity: number
  /** The limit price; 0 or absent for a market order. */
  price?: number
  order_timestamp: string
  trader?: string
  type?: OrderType
  tif?: TimeInForce
  action?: OrderAction
}

const orderSchema = z
  .looseObject({
    id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    instrument: z.string().min(1).max(64),
    trxn_type: z.enum(['BUY', 'SELL']),
    quantity: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    price: z.number().nonnegative().optional(),
    order_timestamp: z.string().refine((s) => parseOrderTs(s) !== undefined, 'expected yyyy/mm/dd, hh:mm:ss (UTC)'),
    trader: z.string().min(1).max(64).optional(),
    type: z.enum(['limit', 'market']).optional(),
    tif: z.enum(['GTC', 'IOC', 'FOK']).optional(),
    action: z.enum(['new', 'cancel', 'modify']).optional(),
  })
  .refine((o) => o.type === 'market' || o.action === 'cancel' || (o.price !== undefined && o.price > 0), {
    message: 'a limit order needs a price > 0',
    path: ['price'],
  })

/** Encodes an order as JSON text, keys in {@link Order}'s order; absent optional fields are left out. */
export function encodeOrder(order: Order): string {
  return JSON.stringify({
    id: order.id,
    instrument: order.instrument,
    trxn_type: order.trxn_type,
    quantity: order.quantity,
    price: order.price,
    order_timestamp: order.order_timestamp,
    trader: order.trader,
    type: order.type,
    tif: order.tif,
    action: order.action,
  })
}

/** The `orders` topic type. */
export const ordersTopic: TopicType<Order> = {
  name: 'orders',
  description: 'BUY/SELL orders {id, instrument, trxn_type, quantity, price, order_timestamp, ...}, key = instrument',
  schema: orderSchema as unknown as z.ZodType<Order>,
  fields: [
    { name: 'id', kind: 'integer', aliases: ['order_id', 'orderid'] },
    { name: 'instrument', kind: 'string', aliases: ['symbol', 'ticker'] },
    { name: 'trxn_type', kind: 'enum', values: ['BUY', 'SELL'], aliases: ['side', 'type', 'direction'] },
    { name: 'quantity', kind: 'integer', aliases: ['qty', 'size', 'volume'] },
    { name: 'price', kind: 'number', aliases: ['limit', 'px'], optional: true },
    {
      name: 'order_timestamp',
      kind: 'timestamp',
      aliases: ['timestamp', 'ts', 'time', 'datetime', 'date'],
      format: formatOrderTs,
    },
    { name: 'trader', kind: 'string', aliases: ['account', 'user'], optional: true },
    { name: 'type', kind: 'enum', values: ['limit', 'market'], aliases: ['order_type'], optional: true },
    { name: 'tif', kind: 'enum', values: ['GTC', 'IOC', 'FOK'], aliases: ['time_in_force'], optional: true },
    { name: 'action', kind: 'enum', values: ['new', 'cancel', 'modify'], optional: true },
  ],
  keyOf: (order) => order.instrument,
  encode: encodeOrder,
  decode: (bytes) => decodeJson(orderSchema as unknown as z.ZodType<Order>, bytes),
}
