/**
 * PostgreSQL's binary COPY format, built as one buffer per batch: a fixed header, then each row as
 * its field count (int16) and each field as its length (int32; -1 for NULL) and its bytes in the
 * column type's binary form, then a trailer (int16 -1). The server reads it without parsing text:
 * numbers and times go in as they are stored, which makes COPY cheaper on both sides than the
 * text format.
 *
 * Binary fields must match the column's type exactly: int4 for `integer`, int8 for `bigint`,
 * float8 for `double precision`, timestamptz as microseconds since 2000-01-01 UTC, jsonb as a
 * version byte (1) and the JSON text, bytea and text as their bytes.
 */

const HEADER = Buffer.from([
  // "PGCOPY\n\377\r\n\0", flags (int32 0), header extension length (int32 0).
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
])

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC), as milliseconds. */
const PG_EPOCH_MS = 946_684_800_000

// Date.UTC maps years 0–99 to 1900–1999: year 1 is set explicitly.
const MIN_MS = new Date(0).setUTCFullYear(1, 0, 1)
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** Whether PostgreSQL can store `ms` (epoch milliseconds) as a timestamptz here: years 1–9999. */
export function storableTime(ms: unknown): ms is number {
  return typeof ms === 'number' && ms >= MIN_MS && ms <= MAX_MS
}

/**
 * A table's rows in binary COPY format, written straight into one growing buffer (a batch of
 * 20,000 rows is one allocation, doubled as needed). Each row is its fields in the COPY target's
 * column order, then {@link end}.
 */
export class CopyBinary {
  private buf: Buffer
  private at: number
  private rowStart = -1
  private fields = 0
  /** Rows ended so far. */
  rows = 0

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 64))
    HEADER.copy(this.buf, 0)
    this.at = HEADER.length
  }

  /** A NULL field. */
  null(): this {
    this.field(4)
    this.buf.writeInt32BE(-1, this.at)
    this.at += 4
    return this
  }

  /** A text field (NULL for null or undefined). */
  text(s: string | null | undefined): this {
    if (s === null || s === undefined) return this.null()
    this.field(4 + s.length * 3)
    const n = this.buf.write(s, this.at + 4, 'utf8')
    this.buf.writeInt32BE(n, this.at)
    this.at += 4 + n
    return this
  }

  /** A bytea field (NULL for null or undefined). */
  bytea(b: Uint8Array | null | undefined): this {
    if (b === null || b === undefined) return this.null()
    this.field(4 + b.length)
    this.buf.writeInt32BE(b.length, this.at)
    this.buf.set(b, this.at + 4)
    this.at += 4 + b.length
    return this
  }

  /** A jsonb field from JSON text (NULL for null or undefined). */
  jsonb(text: string | null | undefined): this {
    if (text === null || text === undefined) return this.null()
    this.field(5 + text.length * 3)
    const n = this.buf.write(text, this.at + 5, 'utf8')
    this.buf.writeInt32BE(n + 1, this.at)
    this.buf[this.at + 4] = 1
    this.at += 5 + n
    return this
  }

  /** A jsonb field from JSON as UTF-8 bytes: e.g. a record's value as it came. */
  jsonbUtf8(bytes: Uint8Array): this {
    this.field(5 + bytes.length)
    this.buf.writeInt32BE(bytes.length + 1, this.at)
    this.buf[this.at + 4] = 1
    this.buf.set(bytes, this.at + 5)
    this.at += 5 + bytes.length
    return this
  }

  /** An int4 field. */
  int4(n: number): this {
    this.field(8)
    this.buf.writeInt32BE(4, this.at)
    this.buf.writeInt32BE(n, this.at + 4)
    this.at += 8
    return this
  }

  /** An int8 field from a safe integer. */
  int8(n: number): this {
    this.field(12)
    this.buf.writeInt32BE(8, this.at)
    this.writeInt64(n, this.at + 4)
    this.at += 12
    return this
  }

  /** A float8 field. */
  float8(x: number): this {
    this.field(12)
    this.buf.writeInt32BE(8, this.at)
    this.buf.writeDoubleBE(x, this.at + 4)
    this.at += 12
    return this
  }

  /** A boolean field. */
  bool(b: boolean): this {
    this.field(5)
    this.buf.writeInt32BE(1, this.at)
    this.buf[this.at + 4] = b ? 1 : 0
    this.at += 5
    return this
  }

  /**
   * A timestamptz field from epoch milliseconds (fractions kept to the microsecond); NULL outside
   * years 1–9999, which PostgreSQL cannot store.
   */
  timestamptz(ms: number | null | undefined): this {
    if (!storableTime(ms)) return this.null()
    this.field(12)
    this.buf.writeInt32BE(8, this.at)
    const whole = Math.floor(ms)
    const micros = (whole - PG_EPOCH_MS) * 1000 + Math.round((ms - whole) * 1000)
    if (Number.isSafeInteger(micros)) this.writeInt64(micros, this.at + 4)
    else
      this.buf.writeBigInt64BE(
        BigInt(whole - PG_EPOCH_MS) * 1000n + BigInt(Math.round((ms - whole) * 1000)),
        this.at + 4,
      )
    this.at += 12
    return this
  }

  /** Ends the current row. */
  end(): this {
    if (this.rowStart < 0) {
      // A row of no fields.
      this.reserve(2)
      this.rowStart = this.at
      this.at += 2
    }
    this.buf.writeInt16BE(this.fields, this.rowStart)
    this.rowStart = -1
    this.fields = 0
    this.rows++
    return this
  }

  /** The whole COPY data, trailer included (a view, valid until the next write). */
  data(): Buffer {
    this.reserve(2)
    this.buf.writeInt16BE(-1, this.at)
    return this.buf.subarray(0, this.at + 2)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at
  }

  // Room for a field of up to `bytes` bytes; the row's field count first when it is the row's first.
  private field(bytes: number): void {
    if (this.rowStart < 0) {
      this.reserve(2 + bytes)
      this.rowStart = this.at
      this.at += 2
    } else this.reserve(bytes)
    this.fields++
  }

  // A safe integer as a big-endian int64 (two's complement).
  private writeInt64(n: number, at: number): void {
    const high = Math.floor(n / 0x1_0000_0000)
    this.buf.writeInt32BE(high, at)
    this.buf.writeUInt32BE(n - high * 0x1_0000_0000, at + 4)
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n))
    this.buf.copy(next, 0, 0, this.at)
    this.buf = next
  }
}
