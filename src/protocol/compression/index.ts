/**
 * Kafka's record-batch compression codecs, selected by `attributes & 7` of a batch:
 * 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. gzip and zstd come from node:zlib; snappy and LZ4 are
 * pure TypeScript (./snappy.ts, ./lz4.ts). Every decoder bounds its output and throws
 * TICKFLOW_ERR_COMPRESSION for corrupt input, so hostile bytes fail one request, never the process.
 */
import { constants } from 'node:buffer'
import zlib from 'node:zlib'
import { Compression as Codec } from '../record-batch.ts'
import { DEFAULT_MAX_OUTPUT_BYTES, checkLimit, compressionError } from './common.ts'
import { lz4Compress, lz4Decompress } from './lz4.ts'
import { snappyCompress, snappyDecompress } from './snappy.ts'

export { DEFAULT_MAX_OUTPUT_BYTES } from './common.ts'
export { lz4Compress, lz4Decompress } from './lz4.ts'
export { snappyCompress, snappyDecompress } from './snappy.ts'
export { xxhash32 } from './xxhash32.ts'

/**
 * Decompresses `data` written with `codec`. Output larger than `maxOutputBytes` (default 64 MiB)
 * is refused. Codec 0 returns `data` itself: nothing is decompressed, so there is nothing to bound.
 *
 * @throws TickflowError TICKFLOW_ERR_COMPRESSION for an unknown codec, corrupt data or too much output.
 */
export function decompress(codec: number, data: Buffer, maxOutputBytes: number = DEFAULT_MAX_OUTPUT_BYTES): Buffer {
  const limit = checkLimit(maxOutputBytes)
  switch (codec) {
    case Codec.none:
      return data
    case Codec.gzip:
      return viaZlib('gzip', limit, (options) => zlib.gunzipSync(data, options))
    case Codec.snappy:
      return snappyDecompress(data, limit)
    case Codec.lz4:
      return lz4Decompress(data, limit)
    case Codec.zstd:
      return viaZlib('zstd', limit, (options) => zlib.zstdDecompressSync(data, options))
    default:
      throw compressionError(`unknown compression codec ${codec}`)
  }
}

/**
 * Compresses `data` with `codec` as Kafka clients do: snappy in xerial framing (the Java client's),
 * LZ4 as one frame of 64 KiB independent blocks. Codec 0 returns `data` itself.
 *
 * @throws TickflowError TICKFLOW_ERR_COMPRESSION for an unknown codec.
 */
export function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Codec.none:
      return data
    case Codec.gzip:
      return zlib.gzipSync(data)
    case Codec.snappy:
      return snappyCompress(data)
    case Codec.lz4:
      return lz4Compress(data)
    case Codec.zstd:
      return zlib.zstdCompressSync(data)
    default:
      throw compressionError(`unknown compression codec ${codec}`)
  }
}

/** Runs a zlib decoder with its output capped, turning every failure into a TickflowError. */
function viaZlib(name: string, limit: number, run: (options: { maxOutputLength: number }) => Buffer): Buffer {
  // zlib wants 1 <= maxOutputLength <= the largest Buffer; a limit of 0 is checked afterwards.
  const maxOutputLength = Math.min(Math.max(limit, 1), constants.MAX_LENGTH)
  let out: Buffer
  try {
    out = run({ maxOutputLength })
  } catch (err) {
    // zlib reports output over maxOutputLength as a RangeError (ERR_BUFFER_TOO_LARGE).
    const code = (err as { code?: unknown }).code
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw compressionError(`${name} output exceeds the limit of ${limit} bytes`, err)
    }
    throw compressionError(`corrupt ${name} data: ${(err as Error).message}`, err)
  }
  if (out.length > limit) throw compressionError(`${name} output exceeds the limit of ${limit} bytes`)
  return out
}
