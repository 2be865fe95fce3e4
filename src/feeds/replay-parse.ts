/**
 * The pure core of `tickflow replay`: streaming CSV (RFC 4180) and JSON-lines parsers that turn
 * text chunks into numbered rows, the matching of file columns to a topic's fields, the conversion
 * of one row into a topic value, and the parsers of the `--map` and `--speed` options.
 *
 * No I/O here: the caller reads the file, feeds decoded text chunks to a {@link RowParser}, and
 * sends each row's value to the topic, or its `raw` text and `error` to the dead-letter topic.
 */
import { daysFromCivil } from '../bus/time.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'

/**
 * One record of the input. `line` is the 1-based physical line where the record starts; `raw` is
 * its original text without the line terminator (what goes to the dead-letter topic). A good row
 * has `fields` (column → value: strings for CSV, parsed JSON values for JSON lines); a bad row has
 * `error`, a short reason, and no `fields`.
 */
export interface ParsedRow {
  line: number
  raw: string
  fields?: Record<string, unknown>
  error?: string
}

/**
 * A streaming row parser. Chunks may be split anywhere; rows come out in input order, each exactly
 * once, whatever the split. `end()` flushes the last record; pushing after it throws CLOSED.
 */
export interface RowParser {
  push(chunk: string): ParsedRow[]
  end(): ParsedRow[]
}

/** A record longer than this (a stray quote swallowing the file, a line with no end) is fatal. */
export const DEFAULT_MAX_RECORD_CHARS = 1 << 20

const BOM = 0xfeff
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const TAB = 0x09
const QUOTE = 0x22

// CSV scanner states. Plain numbers: enums are not erasable syntax.
const BETWEEN = 0 // between records: line breaks here are blank lines
const FIELD_START = 1 // at the start of a field, skipping leading blanks
const UNQUOTED = 2
const QUOTED = 3
const QUOTE_IN_QUOTED = 4 // saw `"` inside a quoted field: either `""` or the closing quote
const AFTER_QUOTE = 5 // after the closing quote, expecting a delimiter or the end of the record
type CsvState = 0 | 1 | 2 | 3 | 4 | 5

/** CSV delimiters we accept; `auto` picks one of them from the header line. */
export type CsvDelimiter = ',' | ';' | '\t' | 'auto'
const DELIMITERS = [',', ';', '\t']

/** Options of {@link CsvRecordParser}. */
export interface CsvParserOptions {
  /** Field delimiter; default `,`. `auto` chooses `,`, `;` or tab by counting them in the header line. */
  delimiter?: CsvDelimiter
  /** Longest record, in UTF-16 code units, before parsing stops; default {@link DEFAULT_MAX_RECORD_CHARS}. */
  maxRecordChars?: number
}

function checkMaxRecordChars(max: number | undefined): number {
  if (max === undefined) return DEFAULT_MAX_RECORD_CHARS
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `maxRecordChars must be a positive integer, got ${max}`)
  }
  return max
}

function tooLong(line: number, max: number): TickflowError {
  return new TickflowError(
    ErrorCodes.INVALID_ARGUMENT,
    `record starting at line ${line} is longer than ${max} characters (an unterminated quote?)`,
  )
}

function closed(): TickflowError {
  return new TickflowError(ErrorCodes.CLOSED, 'parser already ended')
}

/** Counts each candidate delimiter outside quotes in `line`; the most frequent wins, `,` on a tie or none. */
function detectDelimiter(line: string): string {
  const counts = [0, 0, 0]
  let quoted = false
  for (const ch of line) {
    if (ch === '"') quoted = !quoted
    else if (!quoted) {
      const k = DELIMITERS.indexOf(ch)
      if (k >= 0) counts[k]++
    }
  }
  let best = 0
  for (let k = 1; k < counts.length; k++) if (counts[k] > counts[best]) best = k
  return DELIMITERS[best]
}

/**
 * A streaming RFC 4180 CSV parser. The first record is the header and names the columns (see
 * {@link CsvRecordParser.columns}); every later record becomes a row mapping column → string.
 *
 * Accepted beyond the RFC: LF or CRLF (or a lone CR) line ends, a leading UTF-8 BOM, blank and
 * whitespace-only lines (skipped), spaces around fields (unquoted fields are trimmed; blanks
 * around a quoted field are ignored), and a `"` inside an unquoted field (kept literally).
 *
 * Error rows: a record whose field count differs from the header's, text after a closing quote,
 * and a quoted field still open at the end of input. A bad header, or a record longer than
 * `maxRecordChars`, cannot be reported as a row and throws INVALID_ARGUMENT.
 */
export class CsvRecordParser implements RowParser {
  #delimiter: number // char code; -1 while `auto` waits for the header line
  readonly #maxRecordChars: number
  #header: string[] | undefined
  #started = false
  #ended = false
  #detectBuffer = '' // text held back until the header line is complete, for `auto`

  #state: CsvState = BETWEEN
  #line = 1 // physical line of the next character
  #prevCR = false // the previous character was CR, so an LF now ends the same line break
  #recordLine = 1
  #carry = '' // the current record's text from earlier chunks
  #fields: string[] = []
  #field = '' // the current field's value from earlier segments
  #quotedInRecord = false
  #recordError: string | undefined

  /** @throws TICKFLOW_ERR_INVALID_ARGUMENT for an unsupported delimiter or a bad `maxRecordChars` */
  constructor(options: CsvParserOptions = {}) {
    const d = options.delimiter ?? ','
    if (d !== 'auto' && !DELIMITERS.includes(d)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `CSV delimiter must be ',', ';', tab or auto, got ${d}`)
    }
    this.#delimiter = d === 'auto' ? -1 : d.charCodeAt(0)
    this.#maxRecordChars = checkMaxRecordChars(options.maxRecordChars)
  }

  /** The header's column names (trimmed), once the header record has been read. */
  get columns(): readonly string[] | undefined {
    return this.#header
  }

  /** The delimiter in use, or undefined while `auto` has not yet seen the header line. */
  get delimiter(): string | undefined {
    return this.#delimiter < 0 ? undefined : String.fromCharCode(this.#delimiter)
  }

  /**
   * Parses `chunk` and returns the rows it completes.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT for a bad header or an over-long record; TICKFLOW_ERR_CLOSED after `end()`
   */
  push(chunk: string): ParsedRow[] {
    if (this.#ended) throw closed()
    if (!this.#started && chunk.length > 0) {
      this.#started = true
      if (chunk.charCodeAt(0) === BOM) chunk = chunk.slice(1)
    }
    const out: ParsedRow[] = []
    if (this.#delimiter < 0) {
      this.#detectBuffer += chunk
      // The header is the first non-blank line; wait until it is complete.
      const buf = this.#detectBuffer
      const start = buf.search(/\S/)
      const eol = start < 0 ? -1 : buf.slice(start).search(/[\r\n]/)
      if (eol < 0) {
        if (buf.length > this.#maxRecordChars) throw tooLong(1, this.#maxRecordChars)
        return out
      }
      this.#delimiter = detectDelimiter(buf.slice(start, start + eol)).charCodeAt(0)
      chunk = this.#detectBuffer
      this.#detectBuffer = ''
    }
    this.#scan(chunk, out)
    return out
  }

  /**
   * Ends the input and returns the last rows: the final record when the text does not end with a
   * line break, or an error row for a quoted field left open.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT for a bad header; TICKFLOW_ERR_CLOSED when called twice
   */
  end(): ParsedRow[] {
    if (this.#ended) throw closed()
    const out: ParsedRow[] = []
    if (this.#delimiter < 0) {
      // The whole input was one line without a terminator.
      this.#delimiter = detectDelimiter(this.#detectBuffer).charCodeAt(0)
      this.#scan(this.#detectBuffer, out)
      this.#detectBuffer = ''
    }
    this.#ended = true
    switch (this.#state) {
      case BETWEEN:
        break
      case QUOTED:
        this.#state = BETWEEN
        if (this.#header === undefined) {
          throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'CSV header has an unterminated quoted field')
        }
        out.push({ line: this.#recordLine, raw: this.#carry, error: 'unterminated quoted field' })
        break
      case UNQUOTED:
        this.#fields.push(this.#field.trim())
        this.#endRecord(this.#carry, out)
        break
      case FIELD_START: // after a delimiter (an empty last field) or on a blank last line
        this.#fields.push('')
        this.#endRecord(this.#carry, out)
        break
      default: // QUOTE_IN_QUOTED (the closing quote was the last character) or AFTER_QUOTE
        this.#fields.push(this.#field)
        this.#endRecord(this.#carry, out)
    }
    return out
  }

  #scan(chunk: string, out: ParsedRow[]): void {
    const delim = this.#delimiter
    const n = chunk.length
    // Where the current record and the current field's pending segment start in this chunk; a
    // record or field carried over from the previous chunk continues at 0.
    let recStart = 0
    let segStart = this.#state === UNQUOTED || this.#state === QUOTED ? 0 : -1
    let state = this.#state
    // Hot per-character state in locals, stored back after the loop.
    let line = this.#line
    let prevCR = this.#prevCR
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i)
      const afterCR = prevCR
      prevCR = c === CR
      // CR, LF and CRLF are each one line break; the LF of a CRLF split across chunks is seen
      // here with `afterCR` set and must not count again.
      const newline = c === CR || (c === LF && !afterCR)
      // An if-chain rather than a switch: BETWEEN hands its character on to FIELD_START, and
      // QUOTE_IN_QUOTED to AFTER_QUOTE, and the compiler forbids switch fallthrough.
      if (state === BETWEEN) {
        if (c === LF || c === CR) {
          if (newline) line++
          continue
        }
        recStart = i
        this.#recordLine = line
        this.#carry = ''
        this.#fields = []
        this.#quotedInRecord = false
        this.#recordError = undefined
        state = FIELD_START
      }
      if (state === FIELD_START) {
        if (c === delim) {
          this.#fields.push('')
        } else if (c === LF || c === CR) {
          this.#fields.push('')
          line++
          state = this.#endRecord(this.#carry + chunk.slice(recStart, i), out)
        } else if (c === QUOTE) {
          state = QUOTED
          this.#quotedInRecord = true
          this.#field = ''
          segStart = i + 1
        } else if (c !== SPACE && c !== TAB) {
          state = UNQUOTED
          this.#field = ''
          segStart = i
        }
      } else if (state === UNQUOTED) {
        if (c === delim) {
          this.#fields.push((this.#field + chunk.slice(segStart, i)).trim())
          state = FIELD_START
        } else if (c === LF || c === CR) {
          this.#fields.push((this.#field + chunk.slice(segStart, i)).trim())
          line++
          state = this.#endRecord(this.#carry + chunk.slice(recStart, i), out)
        }
      } else if (state === QUOTED) {
        if (c === QUOTE) {
          this.#field += chunk.slice(segStart, i)
          state = QUOTE_IN_QUOTED
        } else if (newline) {
          line++
        }
      } else {
        if (state === QUOTE_IN_QUOTED) {
          if (c === QUOTE) {
            // `""` is an escaped quote: the second `"` starts the next segment.
            state = QUOTED
            segStart = i
            continue
          }
          state = AFTER_QUOTE
        }
        if (c === delim) {
          this.#fields.push(this.#field)
          state = FIELD_START
        } else if (c === LF || c === CR) {
          this.#fields.push(this.#field)
          line++
          state = this.#endRecord(this.#carry + chunk.slice(recStart, i), out)
        } else if (c !== SPACE && c !== TAB) {
          this.#recordError ??= `unexpected text after the closing quote of field ${this.#fields.length + 1}`
          // Keep scanning to the end of the field so the record ends where it should.
          state = UNQUOTED
          segStart = i
        }
      }
    }
    this.#state = state
    this.#line = line
    this.#prevCR = prevCR
    if (state !== BETWEEN) {
      this.#carry += chunk.slice(recStart)
      if (segStart >= 0 && (state === UNQUOTED || state === QUOTED)) this.#field += chunk.slice(segStart)
      if (this.#carry.length > this.#maxRecordChars) throw tooLong(this.#recordLine, this.#maxRecordChars)
    }
  }

  /** Emits the finished record (or takes it as the header) and returns the next state. */
  #endRecord(raw: string, out: ParsedRow[]): CsvState {
    const fields = this.#fields
    const line = this.#recordLine
    this.#fields = []
    this.#state = BETWEEN
    if (raw.length > this.#maxRecordChars) throw tooLong(line, this.#maxRecordChars)
    // A whitespace-only line parses as one empty unquoted field: it is a blank line, not a record.
    if (fields.length === 1 && fields[0] === '' && !this.#quotedInRecord) return BETWEEN
    if (this.#header === undefined) {
      this.#header = this.#takeHeader(fields, line)
      return BETWEEN
    }
    if (this.#recordError !== undefined) {
      out.push({ line, raw, error: this.#recordError })
    } else if (fields.length !== this.#header.length) {
      out.push({ line, raw, error: `expected ${this.#header.length} fields, got ${fields.length}` })
    } else {
      out.push({ line, raw, fields: zip(this.#header, fields) })
    }
    return BETWEEN
  }

  #takeHeader(fields: string[], line: number): string[] {
    if (this.#recordError !== undefined) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `CSV header (line ${line}): ${this.#recordError}`)
    }
    const names = fields.map((f) => f.trim())
    const seen = new Set<string>()
    for (const name of names) {
      if (seen.has(name)) {
        throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `CSV header (line ${line}) repeats column "${name}"`)
      }
      seen.add(name)
    }
    return names
  }
}

/** Column name → value. Rows of one header share one object shape, which V8 handles fast. */
function zip(names: string[], values: string[]): Record<string, unknown> {
  const obj: Record<string, unknown> = {}
  for (let k = 0; k < names.length; k++) {
    // Assigning to `__proto__` would set the prototype; define it as the ordinary column it is.
    if (names[k] === '__proto__') {
      Object.defineProperty(obj, '__proto__', {
        value: values[k],
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else {
      obj[names[k]] = values[k]
    }
  }
  return obj
}

/** Options of {@link JsonLinesParser}. */
export interface JsonLinesParserOptions {
  /** Longest line, in UTF-16 code units, before parsing stops; default {@link DEFAULT_MAX_RECORD_CHARS}. */
  maxRecordChars?: number
}

/**
 * A streaming JSON-lines parser: each non-blank line (LF or CRLF ended) is one JSON object, kept
 * as parsed. Invalid JSON and non-objects (arrays, strings, numbers, null) are error rows.
 */
export class JsonLinesParser implements RowParser {
  readonly #maxRecordChars: number
  #pending = '' // the current line's text from earlier chunks
  #line = 1
  #started = false
  #ended = false

  /** @throws TICKFLOW_ERR_INVALID_ARGUMENT for a bad `maxRecordChars` */
  constructor(options: JsonLinesParserOptions = {}) {
    this.#maxRecordChars = checkMaxRecordChars(options.maxRecordChars)
  }

  /**
   * Parses `chunk` and returns the rows of the lines it completes.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT for an over-long line; TICKFLOW_ERR_CLOSED after `end()`
   */
  push(chunk: string): ParsedRow[] {
    if (this.#ended) throw closed()
    if (!this.#started && chunk.length > 0) {
      this.#started = true
      if (chunk.charCodeAt(0) === BOM) chunk = chunk.slice(1)
    }
    const out: ParsedRow[] = []
    let start = 0
    // Search only the new chunk, so a long line arriving in many chunks is not rescanned.
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      const text = start === 0 ? this.#pending + chunk.slice(0, nl) : chunk.slice(start, nl)
      this.#pending = ''
      this.#emit(text, out)
      start = nl + 1
    }
    this.#pending += chunk.slice(start)
    if (this.#pending.length > this.#maxRecordChars) throw tooLong(this.#line, this.#maxRecordChars)
    return out
  }

  /**
   * Ends the input and returns the row of a last line that has no line break.
   * @throws TICKFLOW_ERR_CLOSED when called twice
   */
  end(): ParsedRow[] {
    if (this.#ended) throw closed()
    this.#ended = true
    const out: ParsedRow[] = []
    if (this.#pending !== '') this.#emit(this.#pending, out)
    this.#pending = ''
    return out
  }

  #emit(text: string, out: ParsedRow[]): void {
    const line = this.#line++
    const raw = text.endsWith('\r') ? text.slice(0, -1) : text
    if (raw.length > this.#maxRecordChars) throw tooLong(line, this.#maxRecordChars)
    if (raw.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch (err) {
      out.push({ line, raw, error: `invalid JSON: ${(err as Error).message}` })
      return
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      out.push({ line, raw, error: 'expected a JSON object' })
      return
    }
    out.push({ line, raw, fields: value as Record<string, unknown> })
  }
}

import type { FieldSpec } from '../bus/topics/types.ts'
export type { FieldKind, FieldSpec } from '../bus/topics/types.ts'

/** Field → column, and the required fields no column could fill. */
export interface MappingResolution {
  mapping: Record<string, string>
  missing: string[]
}

/** Column-name matching ignores case and surrounding spaces, and treats `_`, `-` and spaces alike. */
function normalizeName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
}

/**
 * The one column among `candidates` that `name` designates: an exact match, else the only one
 * matching after normalization.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when several columns match and none exactly
 */
function pickColumn(name: string, candidates: string[], field: string): string | undefined {
  if (candidates.includes(name)) return name
  const key = normalizeName(name)
  const hits = candidates.filter((c) => normalizeName(c) === key)
  if (hits.length > 1) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `field ${field} matches columns ${hits.map((h) => `"${h}"`).join(', ')}; choose one with --map ${field}=COLUMN`,
    )
  }
  return hits[0]
}

/**
 * Chooses the column for each field. Explicit mappings (from `--map`) win; then each field takes
 * the column with its own name; then the column matching its first alias that has one. A column
 * already taken is not reused by a later rule, so a field's name beats another field's alias.
 * Names compare ignoring case, surrounding spaces and the difference between `_`, `-` and space.
 *
 * @returns the mapping (field → column) and the required fields left without a column
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when an explicit mapping names an unknown field or column,
 *   or a name matches several columns
 */
export function resolveMapping(
  columns: string[],
  fields: FieldSpec[],
  explicit: Record<string, string> = {},
): MappingResolution {
  const mapping: Record<string, string> = {}
  const taken = new Set<string>()
  for (const [field, column] of Object.entries(explicit)) {
    if (!fields.some((f) => f.name === field)) {
      const known = fields.map((f) => f.name).join(', ')
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--map: unknown field ${field} (fields: ${known})`)
    }
    const col = pickColumn(column, columns, field)
    if (col === undefined) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `--map ${field}=${column}: no such column (columns: ${columns.join(', ')})`,
      )
    }
    mapping[field] = col
    taken.add(col)
  }
  const free = () => columns.filter((c) => !taken.has(c))
  const assign = (field: string, col: string | undefined): void => {
    if (col === undefined) return
    mapping[field] = col
    taken.add(col)
  }
  for (const f of fields) if (!Object.hasOwn(mapping, f.name)) assign(f.name, pickColumn(f.name, free(), f.name))
  for (const f of fields) {
    for (const alias of f.aliases ?? []) {
      if (Object.hasOwn(mapping, f.name)) break
      assign(f.name, pickColumn(alias, free(), f.name))
    }
  }
  const missing = fields.filter((f) => !f.optional && !Object.hasOwn(mapping, f.name)).map((f) => f.name)
  return { mapping, missing }
}

/** A converted row: the topic value (fields in spec order) and the first timestamp's epoch ms. */
export type MapRowResult = { value: Record<string, unknown>; eventTimeMs?: number } | { error: string }

/** A bad value, quoted and shortened for an error message. */
function describe(v: unknown): string {
  let s: string
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) s = String(v)
  else s = JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

// A plain decimal: no thousands separators, currency signs, hex, `_`, NaN or Infinity.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (typeof v !== 'string') return undefined
  const s = v.trim()
  if (!DECIMAL.test(s)) return undefined
  const n = Number(s)
  return Number.isFinite(n) ? n : undefined
}

/**
 * Converts one parsed row into a topic value: each mapped field's column value is converted by
 * its kind; columns mapped to no field are dropped. A value that is absent, null or blank is an
 * error for a required field and is omitted for an optional one. All bad fields are reported,
 * each as `field: reason: value`, joined by `; `.
 *
 * @returns `{ value, eventTimeMs }` (`eventTimeMs`: the first timestamp field's epoch ms) or `{ error }`
 */
export function mapRow(
  fields: Record<string, unknown>,
  mapping: Record<string, string>,
  specs: FieldSpec[],
): MapRowResult {
  const value: Record<string, unknown> = {}
  const errors: string[] = []
  let eventTimeMs: number | undefined
  for (const spec of specs) {
    const column = Object.hasOwn(mapping, spec.name) ? mapping[spec.name] : undefined
    // hasOwn: a row without a `constructor` column must not read Object.prototype.constructor.
    const v = column !== undefined && Object.hasOwn(fields, column) ? fields[column] : undefined
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
      if (!spec.optional) errors.push(`${spec.name}: ${typeof v === 'string' ? 'empty' : 'missing'}`)
      continue
    }
    switch (spec.kind) {
      case 'number': {
        const n = toNumber(v)
        if (n === undefined) errors.push(`${spec.name}: not a number: ${describe(v)}`)
        else value[spec.name] = n
        break
      }
      case 'integer': {
        const n = toNumber(v)
        if (n === undefined || !Number.isSafeInteger(n)) errors.push(`${spec.name}: not an integer: ${describe(v)}`)
        else value[spec.name] = n
        break
      }
      case 'string':
        if (typeof v === 'string') value[spec.name] = v.trim()
        else if (typeof v === 'number' && Number.isFinite(v)) value[spec.name] = String(v)
        else errors.push(`${spec.name}: not a string: ${describe(v)}`)
        break
      case 'enum': {
        const allowed = spec.values ?? []
        const key = typeof v === 'string' ? v.trim().toLowerCase() : undefined
        const match = allowed.find((a) => a.toLowerCase() === key)
        if (match === undefined) errors.push(`${spec.name}: expected one of ${allowed.join(', ')}: ${describe(v)}`)
        else value[spec.name] = match
        break
      }
      case 'timestamp': {
        const ms = parseTimestamp(v)
        if (ms === undefined) {
          errors.push(`${spec.name}: not a timestamp: ${describe(v)}`)
          break
        }
        eventTimeMs ??= ms
        value[spec.name] = spec.format ? spec.format(ms) : new Date(ms).toISOString()
        break
      }
    }
  }
  if (errors.length > 0) return { error: errors.join('; ') }
  return eventTimeMs === undefined ? { value } : { value, eventTimeMs }
}

// yyyy-mm-dd or yyyy/mm/dd, then optionally `T`, a space or `, ` and hh:mm[:ss[.f{1,9}]], then an
// optional offset (Z, ±hh, ±hhmm, ±hh:mm). The date separator must be the same twice.
const DATE_TIME =
  /^(\d{4})([-/])(\d{2})\2(\d{2})(?:(?:T|,? +)(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?: ?(Z|[+-]\d{2}(?::?\d{2})?))?)?$/i
const EPOCH = /^[+-]?\d+(?:\.\d+)?$/
const MAX_DATE_MS = 8.64e15 // the range of a JavaScript Date

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
}

function fromEpoch(n: number): number | undefined {
  if (!Number.isFinite(n)) return undefined
  const a = Math.abs(n)
  // By magnitude: seconds until 1e11 (year 5138); ms until 1e14; then µs, then ns. Each unit's
  // range starts in 1973, so any date since then is read in the unit that makes it plausible.
  const ms = a < 1e11 ? n * 1000 : a < 1e14 ? n : a < 1e17 ? n / 1000 : n / 1e6
  // Round: 1615393292.123 * 1000 is 1615393292122.9998 in floating point.
  const r = Math.round(ms)
  return Math.abs(r) <= MAX_DATE_MS ? r + 0 : undefined // + 0 turns -0 into 0
}

/**
 * Reads a timestamp as epoch milliseconds. Accepted:
 * - `yyyy-mm-dd hh:mm:ss[.f{1,9}]`, ISO 8601 `yyyy-mm-ddThh:mm:ss[.fff][Z|±hh:mm]`, and
 *   `yyyy/mm/dd, hh:mm:ss` or `yyyy/mm/dd hh:mm:ss`; seconds may be left out (`hh:mm`), and any
 *   of these may end with an offset (`Z`, `±hh:mm`, `±hhmm`, `±hh`). Without one the time is UTC.
 *   Digits past milliseconds are truncated.
 * - a date alone, `yyyy-mm-dd` or `yyyy/mm/dd`: midnight UTC.
 * - an epoch number, or a string of one: below 1e11 in magnitude it is seconds (with an optional
 *   fraction), below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
 *
 * @returns epoch ms, or undefined when `v` is none of these or names no real date or time
 *   (February 30, month 13, hour 24, an offset beyond ±23:59)
 */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') return fromEpoch(v)
  if (typeof v !== 'string') return undefined
  const s = v.trim()
  if (EPOCH.test(s)) return fromEpoch(Number(s))
  const m = DATE_TIME.exec(s)
  if (m === null) return undefined
  const [, ys, , mos, ds, hs, mis, ss, frac, offset] = m
  const y = Number(ys)
  const mo = Number(mos)
  const d = Number(ds)
  const h = hs === undefined ? 0 : Number(hs)
  const mi = mis === undefined ? 0 : Number(mis)
  const sec = ss === undefined ? 0 : Number(ss)
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined
  const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3))
  let offsetMin = 0
  if (offset !== undefined && offset.toUpperCase() !== 'Z') {
    const digits = offset.slice(1).replace(':', '')
    const oh = Number(digits.slice(0, 2))
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0
    if (oh > 23 || om > 59) return undefined
    offsetMin = (offset[0] === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const t = daysFromCivil(y, mo, d) * 86_400_000 + ((h * 60 + mi - offsetMin) * 60 + sec) * 1000 + ms
  return Number.isFinite(t) && Math.abs(t) <= MAX_DATE_MS ? t : undefined
}

/**
 * Parses `--map`: comma-separated `field=column` pairs, e.g. `ts=Date,price=Adj Close`. Spaces
 * around names are ignored; a column name may contain spaces and `=` but not a comma.
 *
 * @returns field → column
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT for an empty option, a pair without `=`, an empty name,
 *   or a field given twice
 */
export function parseMapOption(text: string): Record<string, string> {
  const fail = (why: string) => new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--map: ${why}`)
  if (text.trim() === '') throw fail('expected field=column[,field=column...], got nothing')
  const out: Record<string, string> = {}
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) throw fail(`expected field=column, got "${part.trim()}"`)
    const field = part.slice(0, eq).trim()
    const column = part.slice(eq + 1).trim()
    if (field === '' || column === '') throw fail(`expected field=column, got "${part.trim()}"`)
    if (Object.hasOwn(out, field)) throw fail(`field ${field} is mapped twice`)
    out[field] = column
  }
  return out
}

/**
 * Parses `--speed`: `max` (as fast as possible) is Infinity; `1x`, `10x`, `0.5x` or a bare `2.5`
 * is that factor of the recorded pace.
 *
 * @returns a positive factor, or Infinity
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT for anything else, including 0 and negative factors
 */
export function parseSpeed(text: string): number {
  const s = text.trim().toLowerCase()
  if (s === 'max') return Infinity
  const m = /^(\d+(?:\.\d*)?|\.\d+)x?$/.exec(s)
  const factor = m === null ? NaN : Number(m[1])
  if (!(factor > 0) || !Number.isFinite(factor)) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `--speed must be max or a positive factor such as 1x, 10x or 0.5x, got "${text}"`,
    )
  }
  return factor
}
