/**
 * One batch of the archiver, built in memory before it is written: every record's row of the raw
 * archive, its row of its typed or routed table when it has one, the dead letters of records that
 * table cannot take, and the next offset of each partition. Pure: the archiver writes the batch
 * and its offsets in one database transaction.
 *
 * Raw archive rows keep a record whole: key and value bytes, headers, timestamp. A value goes to
 * `value_json` (jsonb) when it is UTF-8 JSON that PostgreSQL can store as jsonb, else to
 * `value_bytes` as is.
 */
import { isUtf8 } from 'node:buffer'
import { CopyBinary } from './copy-binary.ts'
import { appendRow, routeOf, typedKindOf, TYPED_TABLES, type RouteSpec, type TableSpec } from './tables.ts'

/** One consumed record, as the archiver hands it over. */
export interface ArchiveRecord {
  topic: string
  partition: number
  offset: number
  /** Record timestamp, epoch ms. */
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: readonly (readonly [string, Buffer | null])[]
}

/** A record a table could not take, for `dlq.<topic>`. */
export interface RejectedRecord {
  record: ArchiveRecord
  table: string
  reason: string
}

/** The batches' tables and their COPY data. */
export interface TableRows {
  spec: TableSpec
  rows: CopyBinary
}

export class ArchiveBatch {
  readonly archive = new CopyBinary()
  /** By table name. */
  readonly tables = new Map<string, TableRows>()
  readonly rejected: RejectedRecord[] = []
  /** Every record added, in order (to rebuild the batch without some of them). */
  readonly list: ArchiveRecord[] = []
  /** `topic` → partition → next offset to read. */
  readonly positions = new Map<string, Map<number, number>>()
  /** Records added. */
  records = 0
  /** An estimate of the batch's size in bytes. */
  bytes = 0
  readonly routes: readonly RouteSpec[]
  private readonly tableOfTopic = new Map<string, TableSpec | null>()

  /** Records the database refused: archived as bytes, their table row rejected with this reason. */
  private readonly refused: ReadonlyMap<ArchiveRecord, string>

  constructor(routes: readonly RouteSpec[], refused: ReadonlyMap<ArchiveRecord, string> = new Map()) {
    this.routes = routes
    this.refused = refused
  }

  /**
   * The same records and positions again, with `refused` records archived as plain bytes and
   * rejected from their tables (the database refused them).
   */
  rebuilt(refused: ReadonlyMap<ArchiveRecord, string>): ArchiveBatch {
    const b = new ArchiveBatch(this.routes, refused)
    for (const r of this.list) b.add(r)
    for (const [topic, byPartition] of this.positions) for (const [p, next] of byPartition) b.skipTo(topic, p, next)
    return b
  }

  /** Adds one record: its archive row, its table row or rejection, and its position. */
  add(r: ArchiveRecord): void {
    this.list.push(r)
    this.records++
    this.bytes += 64 + (r.key?.length ?? 0) + 2 * (r.value?.length ?? 0)
    let byPartition = this.positions.get(r.topic)
    if (byPartition === undefined) this.positions.set(r.topic, (byPartition = new Map()))
    byPartition.set(r.partition, r.offset + 1)

    const refused = this.refused.get(r)
    const parsed: ParsedValue = refused === undefined ? parseJsonValue(r.value) : { json: false }
    const a = this.archive
    a.text(r.topic).int4(r.partition).int8(r.offset).timestamptz(r.timestamp).bytea(r.key)
    if (r.headers.length === 0) a.null()
    else a.jsonb(headersJson(r.headers, refused !== undefined))
    if (parsed.json) a.jsonbUtf8(r.value!).null()
    else a.null().bytea(r.value)
    a.end()

    const spec = this.tableSpecOf(r.topic)
    if (spec === null) return
    let table = this.tables.get(spec.table)
    if (table === undefined) this.tables.set(spec.table, (table = { spec, rows: new CopyBinary() }))
    const reason = parsed.json
      ? appendRow(table.rows, spec, r.topic, r.partition, r.offset, parsed.value)
      : refused !== undefined
        ? `the database refused it: ${refused}`
        : r.value === null
          ? 'the record has no value'
          : 'the value is not JSON'
    if (reason !== undefined) this.rejected.push({ record: r, table: spec.table, reason })
  }

  /** Advances a partition's position past offsets that held no records (markers, aborted data). */
  skipTo(topic: string, partition: number, next: number): void {
    let byPartition = this.positions.get(topic)
    if (byPartition === undefined) this.positions.set(topic, (byPartition = new Map()))
    if (next > (byPartition.get(partition) ?? -1)) byPartition.set(partition, next)
  }

  private tableSpecOf(topic: string): TableSpec | null {
    let spec = this.tableOfTopic.get(topic)
    if (spec === undefined) {
      const kind = typedKindOf(topic)
      spec = kind !== undefined ? TYPED_TABLES[kind] : (routeOf(this.routes, topic) ?? null)
      this.tableOfTopic.set(topic, spec)
    }
    return spec
  }
}

type ParsedValue = { json: true; text: string; value: unknown } | { json: false }

// JSON text that jsonb refuses: a NUL escape, or a surrogate escape (jsonb rejects lone ones; the
// rare valid pairs go to value_bytes too, which loses nothing).
const JSONB_REFUSES = /\\u0000|\\u[dD][89a-fA-F]/

/** The value as JSON that jsonb can store, or not JSON. */
export function parseJsonValue(value: Buffer | null): ParsedValue {
  if (value === null || value.length === 0 || !isUtf8(value)) return { json: false }
  const text = value.toString('utf8')
  if (JSONB_REFUSES.test(text)) return { json: false }
  try {
    return { json: true, text, value: JSON.parse(text) as unknown }
  } catch {
    return { json: false }
  }
}

/**
 * Headers as a JSON array of [name, value] pairs, in order: the value as a string when it is
 * UTF-8, else `{"base64": "…"}`.
 */
export function headersJson(headers: readonly (readonly [string, Buffer | null])[], allBase64 = false): string {
  const text = allBase64
    ? ''
    : JSON.stringify(
        headers.map(([name, v]) => [
          name,
          v === null ? null : isUtf8(v) && !v.includes(0) ? v.toString('utf8') : { base64: v.toString('base64') },
        ]),
      )
  if (text !== '' && !JSONB_REFUSES.test(text)) return text
  // A name jsonb cannot hold: every name and value in base64 then.
  return JSON.stringify(
    headers.map(([name, v]) => [
      { base64: Buffer.from(name).toString('base64') },
      v === null ? null : { base64: v.toString('base64') },
    ]),
  )
}
