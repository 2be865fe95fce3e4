/**
 * Whole-batch decoding: header, decompression and records of RecordBatch v2 bytes. The broker
 * stores batches opaque; it looks inside one only to answer ListOffsets by timestamp exactly, and
 * tests and tools use this to read what was stored or fetched.
 *
 *   batch => header (61 bytes, see record-batch.ts) | records (compressed as a whole when
 *            attributes & 7 != 0)
 *   log   => batch*, where a fetch response may end with a partial batch
 */
import { ErrorCodes, TickflowError, isTickflowError } from '../errors.ts'
import { DEFAULT_MAX_OUTPUT_BYTES, decompress } from './compression/index.ts'
import {
  Attributes,
  BATCH_HEADER_SIZE,
  CURRENT_MAGIC,
  LOG_OVERHEAD,
  Offsets,
  decodeRecords,
  readBatchHeader,
} from './record-batch.ts'
import type { BatchHeader, Record } from './record-batch.ts'

/** The smallest encoded record: length, attributes, timestamp and offset deltas, key, value, header count. */
const MIN_RECORD_SIZE = 7

/** A decoded batch: its header and its records with absolute offsets and timestamps. */
export interface DecodedBatch {
  header: BatchHeader
  records: Record[]
}

export interface DecodeBatchOptions {
  /** Cap on the decompressed records section of each batch; default 64 MiB. */
  maxOutputBytes?: number
}

/**
 * Decodes the batch at the start of `batch`; bytes after its `batchLength` are ignored. The CRC is
 * not verified (the broker checked it on produce).
 *
 * @throws TickflowError TICKFLOW_ERR_PROTOCOL_MALFORMED for a truncated or inconsistent batch,
 *   TICKFLOW_ERR_COMPRESSION when its records cannot be decompressed.
 */
export function decodeBatch(batch: Buffer, options: DecodeBatchOptions = {}): DecodedBatch {
  if (batch.length < LOG_OVERHEAD) throw malformed(`batch of ${batch.length} bytes is shorter than its length prefix`)
  const size = LOG_OVERHEAD + batch.readInt32BE(Offsets.batchLength)
  if (size < BATCH_HEADER_SIZE) throw malformed(`batchLength ${size - LOG_OVERHEAD} is shorter than a batch header`)
  if (size > batch.length) throw malformed(`batch of ${size} bytes is truncated to ${batch.length}`)
  return decodeAt(batch, 0, size, options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES)
}

/**
 * Decodes consecutive batches, such as the records of a Fetch response partition. A partial batch
 * at the end is ignored, as Kafka allows brokers to truncate one there.
 *
 * @throws TickflowError as {@link decodeBatch}, for any complete batch.
 */
export function decodeBatches(data: Buffer, options: DecodeBatchOptions = {}): DecodedBatch[] {
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  const out: DecodedBatch[] = []
  let at = 0
  while (data.length - at >= LOG_OVERHEAD) {
    const batchLength = data.readInt32BE(at + Offsets.batchLength)
    const size = LOG_OVERHEAD + batchLength
    // A length that cannot even hold a header is corruption, not truncation.
    if (size < BATCH_HEADER_SIZE) throw malformed(`batchLength ${batchLength} at ${at} is shorter than a header`)
    if (size > data.length - at) break
    out.push(decodeAt(data, at, size, maxOutputBytes))
    at += size
  }
  return out
}

/** Decodes the batch occupying exactly `buf[at, at + size)`; the caller has checked the bounds. */
function decodeAt(buf: Buffer, at: number, size: number, maxOutputBytes: number): DecodedBatch {
  const header = readBatchHeader(buf, at)
  if (header.magic !== CURRENT_MAGIC) throw malformed(`batch at ${at} has magic ${header.magic}, not 2`)
  if (header.recordCount < 0) throw malformed(`negative record count ${header.recordCount}`)
  const codec = header.attributes & Attributes.compressionMask
  const payload = decompress(codec, buf.subarray(at + BATCH_HEADER_SIZE, at + size), maxOutputBytes)
  // decodeRecords trusts the count; a lying one must not drive allocation beyond what the bytes can hold.
  if (header.recordCount > payload.length / MIN_RECORD_SIZE) {
    throw malformed(`record count ${header.recordCount} cannot fit in ${payload.length} bytes`)
  }
  let records: Record[]
  try {
    records = decodeRecords(header, payload)
  } catch (err) {
    // The Reader already throws PROTOCOL_MALFORMED; anything else is still a malformed batch.
    if (isTickflowError(err)) throw err
    throw malformed(`batch at ${at} has undecodable records: ${(err as Error).message}`)
  }
  return { header, records }
}

function malformed(message: string): TickflowError {
  return new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, message)
}
