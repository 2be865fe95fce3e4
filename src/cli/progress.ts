/**
 * Progress of long-running commands: a status line redrawn at most every 200 ms on a terminal,
 * nothing when stderr is not a terminal or with --quiet.
 */
import type { CommandIO } from './command.ts'

export interface Progress {
  /** Sets the text; drawn when the last draw is old enough. */
  update(render: () => string): void
  /** Clears the line (so the command's output starts on a clean line). */
  done(): void
}

/** A progress line for `io`, silent when `quiet` or when stderr is not a terminal. */
export function progress(io: CommandIO, quiet: boolean, intervalMs = 200): Progress {
  const status = quiet ? undefined : io.status
  let last = 0
  let drawn = false
  return {
    update(render) {
      if (status === undefined) return
      const now = Date.now()
      if (now - last < intervalMs) return
      last = now
      drawn = true
      status(render())
    },
    done() {
      if (status !== undefined && drawn) status('')
    },
  }
}

/** 1234567 → "1,234,567". */
export function formatCount(n: number | bigint): string {
  return n.toLocaleString('en-US')
}

/** Bytes as B, KiB, MiB or GiB with one decimal. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`
}
