/**
 * PostgreSQL's COPY text format, built as one string per batch: a row is its fields separated by
 * tabs and ended by a newline; `\N` is NULL; backslash, tab, newline and carriage return inside a
 * field are escaped as `\\`, `\t`, `\n`, `\r`. bytea fields are hex (`\\x0a1b`, the backslash
 * itself escaped), timestamps ISO 8601 with an explicit UTC offset.
 */

/** A table's rows in COPY text format, field by field. */
export class CopyText {
  private parts: string[] = []
  private row = ''
  private fields = 0
  /** Rows ended so far. */
  rows = 0

  /** A text field (escaped). */
  text(s: string | null | undefined): this {
    return this.raw(s === null || s === undefined ? NULL : escapeCopy(s))
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
    return this.raw(
      b === null || b === undefined ? NULL : `\\\\x${Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')}`,
    )
  }

  /** A timestamptz field from epoch milliseconds (NULL when not a valid time). */
  time(ms: number | null | undefined): this {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return this.raw(NULL)
    const d = new Date(ms)
    return this.raw(Number.isNaN(d.getTime()) ? NULL : d.toISOString())
  }

  /** A field already in COPY text form (no escaping): `\N`, a number, a timestamp literal. */
  raw(field: string): this {
    this.row = this.fields === 0 ? field : `${this.row}\t${field}`
    this.fields++
    return this
  }

  /** Ends the current row. */
  end(): this {
    this.parts.push(this.row, '\n')
    this.row = ''
    this.fields = 0
    this.rows++
    return this
  }

  /** Everything written, as one string. */
  toString(): string {
    return this.parts.join('')
  }
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
