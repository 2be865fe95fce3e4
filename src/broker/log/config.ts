/**
 * Per-partition log settings, named after the Kafka topic configs they implement.
 */
import { ErrorCodes, TickflowError } from '../../errors.ts'

/** Storage settings of one partition log (the Kafka topic configs of the same names). */
export interface LogConfig {
  /** `segment.bytes`: roll when the active segment would exceed it (default 1 GiB). */
  segmentBytes: number
  /** `segment.ms`: roll when the active segment's first append is older (default 7 days). */
  segmentMs: number
  /** `retention.ms`: delete segments whose newest record is older; -1 keeps forever (default 7 days). */
  retentionMs: number
  /** `retention.bytes`: delete the oldest segments while the log is larger; -1 = unlimited (default). */
  retentionBytes: number
  /** `index.interval.bytes`: an offset/time index entry at most every N bytes (default 4096). */
  indexIntervalBytes: number
}

const DAY_MS = 24 * 60 * 60 * 1000

/** Kafka's defaults. */
export const DEFAULT_LOG_CONFIG: LogConfig = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
})

// Index positions are stored as u32, and Kafka caps segment.bytes at Int32.MAX_VALUE.
const MAX_SEGMENT_BYTES = 0x7fffffff

/**
 * Throws TICKFLOW_ERR_INVALID_CONFIG unless every field is an integer in its range:
 * segmentBytes in [1, 2^31 - 1], segmentMs >= 1, retentionMs and retentionBytes >= -1,
 * indexIntervalBytes >= 0.
 */
export function validateLogConfig(config: LogConfig): void {
  check(config, 'segmentBytes', 1, MAX_SEGMENT_BYTES)
  check(config, 'segmentMs', 1, Number.MAX_SAFE_INTEGER)
  check(config, 'retentionMs', -1, Number.MAX_SAFE_INTEGER)
  check(config, 'retentionBytes', -1, Number.MAX_SAFE_INTEGER)
  check(config, 'indexIntervalBytes', 0, MAX_SEGMENT_BYTES)
}

function check(config: LogConfig, key: keyof LogConfig, min: number, max: number): void {
  const v = config[key]
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TickflowError(
      ErrorCodes.INVALID_CONFIG,
      `log config ${key} must be an integer in [${min}, ${max}], got ${v}`,
    )
  }
}
