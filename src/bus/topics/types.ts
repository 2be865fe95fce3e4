/** The shape every typed topic shares: its schema, serde, key and the fields replay can fill. */
import type { z } from 'zod'

/** How a topic field's value is read from a column of a replayed file. */
export type FieldKind = 'timestamp' | 'string' | 'number' | 'integer' | 'enum'

/** One field of a topic's value, as replay fills it from a column. */
export interface FieldSpec {
  /** The field's name in the topic value; also matched against column names. */
  name: string
  kind: FieldKind
  /** Other column names that mean this field, in order of preference (e.g. `close`, `last` for price). */
  aliases?: string[]
  /** An optional field may have no column, and is omitted when a row's value is missing or empty. */
  optional?: boolean
  /** For `enum`: the allowed values, matched case-insensitively and written as given here. */
  values?: string[]
  /** For `timestamp`: how the topic writes epoch ms; default ISO 8601 (`toISOString`). */
  format?: (ms: number) => string
}

/** The outcome of decoding one record value: the typed value, or why it is not one. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string }

/** A topic with a schema: values are JSON text checked by `schema`; the key is derived from the value. */
export interface TopicType<T> {
  /** The default topic name (`prices`, `orders`). */
  name: string
  /** A one-line description for help and `tickflow topics`. */
  description: string
  schema: z.ZodType<T>
  /** The fields in wire order, for replay's column mapping. */
  fields: FieldSpec[]
  /** The record key of a value (the symbol or instrument, so a key's records stay in one partition). */
  keyOf(value: T): string
  /** JSON text of a value, in the topic's field order. */
  encode(value: T): string
  /** Parses and checks a record value. Never throws. */
  decode(bytes: Buffer | null | undefined): Decoded<T>
}
