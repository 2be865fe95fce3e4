/**
 * The partition's checkpoint file: the log start offset (moved by DeleteRecords, so it must
 * survive a restart) and the recovery point (every segment that ends at or below it was fsynced
 * and is trusted on open; the rest are validated batch by batch). Written to a temp file, fsynced,
 * then renamed over the old one, so a crash leaves either the old or the new checkpoint.
 *
 *   tickflow-log-checkpoint 1
 *   log-start-offset <n>
 *   recovery-point <n>
 */
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from '../../files/atomic-file.ts'

export const CHECKPOINT_FILE = 'log.checkpoint'
const MAGIC_LINE = 'tickflow-log-checkpoint 1'

export interface LogCheckpoint {
  logStartOffset: number
  recoveryPoint: number
}

/** Reads the checkpoint of partition directory `dir`; null when it is missing or unreadable. */
export function readCheckpoint(dir: string): LogCheckpoint | null {
  let text: string
  try {
    text = fs.readFileSync(path.join(dir, CHECKPOINT_FILE), 'latin1')
  } catch {
    return null
  }
  const lines = text.split('\n')
  if (lines[0] !== MAGIC_LINE) return null
  let logStartOffset = -1
  let recoveryPoint = -1
  for (let i = 1; i < lines.length; i++) {
    const [key, value, extra] = lines[i].split(' ')
    if (key === '' && value === undefined) continue
    const n = Number(value)
    if (extra !== undefined || !/^\d+$/.test(value ?? '') || !Number.isSafeInteger(n)) return null
    if (key === 'log-start-offset') logStartOffset = n
    else if (key === 'recovery-point') recoveryPoint = n
  }
  if (logStartOffset < 0 || recoveryPoint < 0) return null
  return { logStartOffset, recoveryPoint }
}

/** Atomically replaces the checkpoint of `dir`. */
export function writeCheckpoint(dir: string, checkpoint: LogCheckpoint): void {
  const text = `${MAGIC_LINE}\nlog-start-offset ${checkpoint.logStartOffset}\nrecovery-point ${checkpoint.recoveryPoint}\n`
  writeFileAtomic(path.join(dir, CHECKPOINT_FILE), text)
}
