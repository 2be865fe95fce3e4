/**
 * tickflow's errors. Every error thrown by our code is a {@link TickflowError} whose `code` comes
 * from {@link ErrorCodes}; codes are stable and tests assert them, never message text.
 *
 * Kafka protocol errors (UNKNOWN_TOPIC_OR_PARTITION, …) are response data, not exceptions: see
 * `src/protocol/error-codes.ts`. Exceptions are for faults such as a malformed frame, which closes
 * one connection.
 */

export const ErrorCodes = {
  /** A frame or field could not be decoded: truncated, negative length, bad varint. */
  PROTOCOL_MALFORMED: 'TICKFLOW_ERR_PROTOCOL_MALFORMED',
  /** A value cannot be encoded (out of range, null where the version forbids it). */
  PROTOCOL_ENCODE: 'TICKFLOW_ERR_PROTOCOL_ENCODE',
  /** A request names an API key or version the broker does not serve. */
  PROTOCOL_UNSUPPORTED: 'TICKFLOW_ERR_PROTOCOL_UNSUPPORTED',
  /** A frame is larger than the broker accepts. */
  FRAME_TOO_LARGE: 'TICKFLOW_ERR_FRAME_TOO_LARGE',
  /** A record batch is invalid (bad magic, length, CRC, or fields). */
  INVALID_RECORD_BATCH: 'TICKFLOW_ERR_INVALID_RECORD_BATCH',
  /** A compressed payload could not be decompressed. */
  COMPRESSION: 'TICKFLOW_ERR_COMPRESSION',
  /** The on-disk log is unusable in a way recovery cannot repair. */
  LOG_CORRUPT: 'TICKFLOW_ERR_LOG_CORRUPT',
  /** A broker or component was used after it was closed. */
  CLOSED: 'TICKFLOW_ERR_CLOSED',
  /** A configuration value is invalid. */
  INVALID_CONFIG: 'TICKFLOW_ERR_INVALID_CONFIG',
  /** A command-line argument is invalid. */
  INVALID_ARGUMENT: 'TICKFLOW_ERR_INVALID_ARGUMENT',
  /** A registry refused a second registration under the same key. */
  DUPLICATE_REGISTRATION: 'TICKFLOW_ERR_DUPLICATE_REGISTRATION',
  /** A topic a command needs does not exist. */
  UNKNOWN_TOPIC: 'TICKFLOW_ERR_UNKNOWN_TOPIC',
  /** A network listener could not be opened. */
  LISTEN: 'TICKFLOW_ERR_LISTEN',
  /**
   * A broker's data directory is held by another running broker (another process, or another
   * broker of this process); its `broker.lock` names the owner's pid and address.
   */
  DATA_DIR_LOCKED: 'TICKFLOW_ERR_DATA_DIR_LOCKED',
  /** Another instance took over a transactional id (a newer epoch): this one must stop writing. */
  FENCED: 'TICKFLOW_ERR_FENCED',
  /** A Kafka transaction was refused (other than by fencing); it is aborted. */
  TRANSACTION: 'TICKFLOW_ERR_TRANSACTION',
  /** A checkpoint could not be read back or does not fit the processor. */
  CHECKPOINT: 'TICKFLOW_ERR_CHECKPOINT',
  /**
   * The database refused a statement or could not be reached; `retriable` when the connection
   * failed or the server is restarting (the operation may be tried again).
   */
  DATABASE: 'TICKFLOW_ERR_DATABASE',
  /** A query of the archive where nothing was ever archived (no database, or no tables in the schema). */
  NOTHING_ARCHIVED: 'TICKFLOW_ERR_NOTHING_ARCHIVED',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface TickflowErrorOptions {
  cause?: unknown
  /** True when retrying the same operation may succeed. */
  retriable?: boolean
}

export class TickflowError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean

  constructor(code: ErrorCode, message: string, options: TickflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TickflowError'
    this.code = code
    this.retriable = options.retriable ?? false
  }
}

/** True when `err` is a TickflowError, optionally with the given code. */
export function isTickflowError(err: unknown, code?: ErrorCode): err is TickflowError {
  return err instanceof TickflowError && (code === undefined || err.code === code)
}
