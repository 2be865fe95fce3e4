/**
 * Replays a CSV or JSON-lines history file onto a topic: rows are parsed as a stream, their columns
 * mapped to the topic's fields (by name, alias or an explicit mapping), checked against the topic's
 * schema and written in file order; rows that cannot be read go to `dlq.<topic>` with the reason
 * and their file and line, so nothing is lost. With a speed factor the rows are paced by the
 * intervals of their event times (1x = as recorded).
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { deadLetterMessage, dlqTopicOf } from '../bus/dlq.ts'
import type { TopicWriter } from '../bus/producer.ts'
import type { TopicType } from '../bus/topics/index.ts'
import { describeIssues } from '../bus/topics/json.ts'
import { ErrorCodes, isTickflowError, TickflowError } from '../errors.ts'
import { sleep } from './runner.ts'
import {
  CsvRecordParser,
  JsonLinesParser,
  mapRow,
  resolveMapping,
  type ParsedRow,
  type RowParser,
} from './replay-parse.ts'

export type ReplayFormat = 'csv' | 'tsv' | 'jsonl'

/** The format of `file` by its extension (a trailing .gz is looked through). */
export function formatOfFile(file: string): ReplayFormat {
  const ext = path.extname(file.replace(/\.gz$/i, '')).toLowerCase()
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl'
  if (ext === '.tsv' || ext === '.tab') return 'tsv'
  return 'csv'
}

export interface ReplayOptions {
  file: string
  format: ReplayFormat
  topic: string
  /** The topic's type: values are mapped to its fields and checked; undefined = rows as they are. */
  type?: TopicType<unknown>
  /** field → column overrides (`--map`). */
  map?: Record<string, string>
  /** For untyped topics: the column whose value is the record key. */
  keyColumn?: string
  /** Playback speed: Infinity = as fast as possible; 1 = the recorded pace; 10 = ten times faster. */
  speed: number
  writer: TopicWriter
  /** Writer of `dlq.<topic>`. */
  dlq: TopicWriter
  signal?: AbortSignal
  /** Each malformed row, as it is found. */
  onBadRow?(line: number, reason: string): void
  onProgress?(rows: number, bad: number): void
}

export interface ReplayResult {
  /** Rows written to the topic. */
  written: number
  /** Rows sent to the dead-letter topic. */
  bad: number
  interrupted: boolean
  seconds: number
}

/** Replays the file; flushes both writers before returning. */
export async function replayFile(options: ReplayOptions): Promise<ReplayResult> {
  const { writer, dlq, type, signal } = options
  const started = performance.now()
  const source = `${path.basename(options.file)}`
  const parser: RowParser =
    options.format === 'jsonl'
      ? new JsonLinesParser()
      : new CsvRecordParser({ delimiter: options.format === 'tsv' ? '\t' : 'auto' })
  let mapping: Record<string, string> | undefined
  // JSON lines have no header: each row names its own keys, so rows are mapped by their key list.
  const jsonMappings = new Map<string, { mapping?: Record<string, string>; error?: string }>()
  // A field --map names that the topic lacks is an error of the command, not of a row.
  if (type !== undefined && options.map !== undefined)
    resolveMapping(Object.values(options.map), type.fields, options.map)
  let written = 0
  let bad = 0
  let firstEventMs: number | undefined
  let lastProgress = 0

  const badRow = (row: ParsedRow, reason: string): Promise<void> | undefined => {
    bad++
    options.onBadRow?.(row.line, reason)
    return dlq.writeMessage(
      deadLetterMessage({ topic: options.topic, value: row.raw, reason, source: `${source}:${row.line}` }),
    )
  }

  const aborted = (): boolean => signal?.aborted === true

  // A missing key is left to mapRow, which reports the field as missing; a row whose keys cannot be
  // mapped (an --map key it lacks, a field matching two keys) is a bad row.
  const jsonMappingFor = (
    keys: string[],
    t: TopicType<unknown>,
  ): { mapping?: Record<string, string>; error?: string } => {
    const signature = JSON.stringify(keys)
    let m = jsonMappings.get(signature)
    if (m === undefined) {
      try {
        m = { mapping: resolveMapping(keys, t.fields, options.map).mapping }
      } catch (err) {
        if (!isTickflowError(err, ErrorCodes.INVALID_ARGUMENT)) throw err
        m = { error: err.message }
      }
      if (jsonMappings.size >= 1000) jsonMappings.clear()
      jsonMappings.set(signature, m)
    }
    return m
  }

  const handle = async (row: ParsedRow): Promise<void> => {
    if (row.error !== undefined || row.fields === undefined) {
      await badRow(row, row.error ?? 'unreadable row')
      return
    }
    let value: unknown
    let key: string | undefined
    let eventMs: number | undefined
    if (type !== undefined) {
      let rowMapping: Record<string, string>
      if (parser instanceof CsvRecordParser) {
        rowMapping = mapping ??= mappingFor([...(parser.columns ?? [])], type, options.map)
      } else {
        const m = jsonMappingFor(Object.keys(row.fields), type)
        if (m.mapping === undefined) {
          await badRow(row, m.error ?? 'unmappable row')
          return
        }
        rowMapping = m.mapping
      }
      const mapped = mapRow(row.fields, rowMapping, type.fields)
      if ('error' in mapped) {
        await badRow(row, mapped.error)
        return
      }
      const checked = type.schema.safeParse(mapped.value)
      if (!checked.success) {
        await badRow(row, describeIssues(checked.error))
        return
      }
      value = checked.data
      key = type.keyOf(checked.data)
      eventMs = mapped.eventTimeMs
    } else {
      value = row.fields
      const k = options.keyColumn === undefined ? undefined : row.fields[options.keyColumn]
      key = k === undefined || k === null ? undefined : String(k)
    }
    if (Number.isFinite(options.speed) && eventMs !== undefined) {
      firstEventMs ??= eventMs
      const due = started + (eventMs - firstEventMs) / options.speed
      const wait = due - performance.now()
      if (wait > 0) {
        // Paced: what is queued goes out before the pause, so consumers see rows on time.
        await writer.flush()
        await sleep(wait, signal)
        // Stopped while waiting: this row is not due yet, so it is not sent.
        if (aborted()) return
      }
    }
    const pending = writer.write(key, type !== undefined ? type.encode(value) : JSON.stringify(value))
    written++
    if (pending !== undefined) await pending
  }

  const input = fs.createReadStream(options.file)
  const text = (options.file.toLowerCase().endsWith('.gz') ? input.pipe(zlib.createGunzip()) : input).setEncoding(
    'utf8',
  )
  try {
    for await (const chunk of text) {
      if (aborted()) break
      for (const row of parser.push(chunk as string)) {
        if (aborted()) break
        await handle(row)
      }
      const now = performance.now()
      if (now - lastProgress > 100) {
        lastProgress = now
        options.onProgress?.(written, bad)
      }
    }
    if (!aborted()) for (const row of parser.end()) await handle(row)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `no such file: ${options.file}`)
    }
    if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR') {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `${options.file} is not valid gzip data`)
    }
    throw err
  } finally {
    text.destroy()
  }
  await writer.flush()
  await dlq.flush()
  options.onProgress?.(written, bad)
  return { written, bad, interrupted: aborted(), seconds: (performance.now() - started) / 1000 }
}

function mappingFor(
  columns: string[],
  type: TopicType<unknown>,
  explicit: Record<string, string> | undefined,
): Record<string, string> {
  const { mapping, missing } = resolveMapping(columns, type.fields, explicit)
  if (missing.length > 0) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `no column for ${missing.join(', ')} of ${type.name} (columns: ${columns.join(', ')}); map one with --map ${missing[0]}=COLUMN`,
    )
  }
  return mapping
}

/** The dead-letter topic replay writes to. */
export { dlqTopicOf }
