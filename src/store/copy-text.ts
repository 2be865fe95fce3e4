/**
 * PostgreSQL's COPY text format, built as one string per batch: a row is its fields separated by
 * tabs and ended by a newline; `\N` is NULL; backslash, tab, newline and carriage return inside a
 * field are escaped as `\\`, `\t`, `\n`, `\r`. bytea fields are hex (`\\x0a1b`, the backslash
 * itself escaped), timestamps `yyyy-mm-dd hh:mm:ss.fff+00`.
 */
import { formatPriceTs } from '../bus/time.ts'

/**
 * A table's rows in COPY text format, field by field, written straight into a growing buffer (no
 * string per field or row: a batch of 20,000 rows is one allocation, doubled as needed).
 */
export class CopyText {
  private buf: Buffer
  private at = 0
  private fields = 0
  /** Rows ended so far. */
  rows = 0

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes)
  }

  /** A text field (escaped). */
  text(s: string | null | undefined): this {
    if (s === null || s === undefined) return this.raw(NULL)
    this.separate()
    this.reserve(s.length * 3 * 2)
    if (!SPECIAL.test(s)) this.at += this.buf.write(s, this.at, 'utf8')
    else this.at += this.buf.write(escapeCopy(s), this.at, 'utf8')
    return this
  }

  /** A text field from UTF-8 bytes (escaped): e.g. a record's JSON value as it came. */
  utf8(bytes: Uint8Array): this {
    this.separate()
    this.reserve(bytes.length * 2)
    const buf = this.buf
    let at = this.at
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]
      // Only backslash, tab, newline and CR need escaping; other bytes, UTF-8 included, go as they are.
      if (c === 0x5c || c === 0x09 || c === 0x0a || c === 0x0d) {
        buf[at++] = 0x5c
        buf[at++] = c === 0x5c ? 0x5c : c === 0x09 ? 0x74 : c === 0x0a ? 0x6e : 0x72
      } else buf[at++] = c
    }
    this.at = at
    return this
  }

  /** A number field: finite numbers as JavaScript writes them, anything else NULL. */
  number(x: number | null | undefined): this {
    return this.raw(typeof x === 'number' && Number.isFinite(x) ? String(x) : NULL)
  }

  /** A boolean field. */
  bool(b: boolean | null | undefined): this {
    return this.raw(b === null || b === undefined ? NULL : b ? 't' : 'f')
  }

  /** A bytea field in hex. */
  bytes(b: Uint8Array | null | undefined): this {
    if (b === null || b === undefined) return this.raw(NULL)
    this.separate()
    this.reserve(4 + 2 * b.length)
    // `\\x` then the hex digits: COPY reads `\\` as one backslash, bytea `\x…` as hex.
    this.at += this.buf.write('\\\\x', this.at, 'latin1')
    this.at += this.buf.write(Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'), this.at, 'latin1')
    return this
  }

  /** A timestamptz field from epoch milliseconds (NULL outside years 1–9999, which PostgreSQL cannot store). */
  time(ms: number | null | undefined): this {
    return this.raw(copyTime(ms) ?? NULL)
  }

  /** A field already in COPY text form (no escaping): `\N`, a number, a timestamp literal. */
  raw(field: string): this {
    this.separate()
    this.reserve(field.length * 3)
    this.at += this.buf.write(field, this.at, 'utf8')
    return this
  }

  /** Ends the current row. */
  end(): this {
    this.reserve(1)
    this.buf[this.at++] = 0x0a
    this.fields = 0
    this.rows++
    return this
  }

  /** The bytes written (a view, valid until the next write). */
  data(): Buffer {
    return this.buf.subarray(0, this.at)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at
  }

  /** Everything written, as a string (for tests and messages). */
  toString(): string {
    return this.buf.toString('utf8', 0, this.at)
  }

  private separate(): void {
    if (this.fields++ > 0) {
      this.reserve(1)
      this.buf[this.at++] = 0x09
    }
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n))
    this.buf.copy(next, 0, 0, this.at)
    this.buf = next
  }
}

// Date.UTC maps years 0–99 to 1900–1999: year 1 is set explicitly.
const MIN_MS = new Date(0).setUTCFullYear(1, 0, 1)
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/**
 * Epoch ms as a timestamptz literal, `2024-01-02 09:30:00.000+00`, or undefined outside years
 * 1–9999.
 */
export function copyTime(ms: unknown): string | undefined {
  if (typeof ms !== 'number' || !(ms >= MIN_MS && ms <= MAX_MS)) return undefined
  return `${formatPriceTs(ms)}+00`
}

/** COPY's NULL marker. */
export const NULL = '\\N'

// Characters COPY text gives a meaning to: they must be escaped inside a field.
const SPECIAL = /[\\\t\n\r]/

/** `s` escaped for a COPY text field. */
export function escapeCopy(s: string): string {
  if (!SPECIAL.test(s)) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '\\') out += '\\\\'
    else if (c === '\t') out += '\\t'
    else if (c === '\n') out += '\\n'
    else if (c === '\r') out += '\\r'
    else out += c
  }
  return out
}
