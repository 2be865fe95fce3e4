/**
 * Partition storage of the embedded broker: segment files, offset and time indexes, recovery,
 * retention and flush. See `partition-log.ts`.
 */
export { DEFAULT_LOG_CONFIG, validateLogConfig } from './config.ts'
export type { LogConfig } from './config.ts'
export { PartitionLog } from './partition-log.ts'
export type { AppendResult, PartitionLogOptions } from './partition-log.ts'
export type { RecoveryReport } from './recovery.ts'
export { CHECKPOINT_FILE } from './checkpoint.ts'
export { segmentFileName } from './segment.ts'
