/** The typed topics tickflow knows. Other topics are read and written as untyped JSON. */
import { ordersTopic } from './orders.ts'
import { pricesTopic } from './prices.ts'
import type { TopicType } from './types.ts'

export { ordersTopic, encodeOrder } from './orders.ts'
export type { Order, OrderAction, OrderSide, OrderType, TimeInForce } from './orders.ts'
export { pricesTopic, encodePriceTick, scanPrice } from './prices.ts'
export type { PriceScan, PriceTick } from './prices.ts'
export type { Decoded, FieldKind, FieldSpec, TopicType } from './types.ts'

/** Which typed topic a topic name holds, by its default name. */
const TYPES = new Map<string, TopicType<unknown>>([
  [pricesTopic.name, pricesTopic as TopicType<unknown>],
  [ordersTopic.name, ordersTopic as TopicType<unknown>],
])

/** The typed topics, for help texts. */
export const TOPIC_TYPES: readonly TopicType<unknown>[] = [...TYPES.values()]

/** The type of `name` (exact match or by `--type`), or undefined when it is an untyped topic. */
export function topicType(name: string): TopicType<unknown> | undefined {
  return TYPES.get(name)
}
