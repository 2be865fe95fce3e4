/**
 * Runs a generator feed into a topic: exactly `count` records (or until stopped), paced to `rate`
 * records per second or as fast as the cluster acknowledges (`Infinity`).
 */
import type { RecordWriter } from '../bus/chunked-writer.ts'

/** A source of records: a synthetic generator. */
export interface RecordSource<T> {
  next(): T
}

export interface FeedRunOptions<T> {
  source: RecordSource<T>
  writer: RecordWriter
  keyOf(value: T): string
  encode(value: T): string
  /** Records to send; undefined = until `signal` aborts. */
  count?: number
  /** Records per second; Infinity = as fast as possible. */
  rate: number
  signal?: AbortSignal
  /** Called after each generated record (e.g. to keep per-symbol counters). */
  onRecord?(value: T): void
  /** Called at least every 100 ms with the counts so far. */
  onProgress?(generated: number, acked: number): void
}

export interface FeedRunResult {
  generated: number
  /** Records the cluster acknowledged: equal to `generated` unless sending failed. */
  acked: number
  interrupted: boolean
  seconds: number
}

// Records generated per turn of the loop at most: large enough to amortise, small enough that a
// paced feed sends evenly and a stop signal is seen quickly.
const TURN = 2000

/** Runs the feed; flushes before returning, so `acked` is final. */
export async function runFeed<T>(options: FeedRunOptions<T>): Promise<FeedRunResult> {
  const { source, writer, count, rate, signal } = options
  const start = performance.now()
  const ackedAtStart = writer.acked
  let generated = 0
  let lastProgress = 0
  while (count === undefined || generated < count) {
    if (signal?.aborted === true) break
    let turn = count === undefined ? TURN : Math.min(TURN, count - generated)
    if (Number.isFinite(rate)) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate) - generated
      if (due <= 0) {
        await sleep(Math.min(50, Math.max(1, 1000 / rate)), signal)
        continue
      }
      turn = Math.min(turn, due)
    }
    for (let i = 0; i < turn; i++) {
      const value = source.next()
      options.onRecord?.(value)
      generated++
      const wait = writer.write(options.keyOf(value), options.encode(value))
      if (wait !== undefined) await wait
    }
    const now = performance.now()
    if (options.onProgress !== undefined && now - lastProgress >= 100) {
      lastProgress = now
      options.onProgress(generated, writer.acked - ackedAtStart)
    }
    // A paced feed waits above; an unpaced one yields here so timers and signals still run.
    if (!Number.isFinite(rate)) await new Promise((r) => setImmediate(r))
  }
  await writer.flush()
  options.onProgress?.(generated, writer.acked - ackedAtStart)
  return {
    generated,
    acked: writer.acked - ackedAtStart,
    interrupted: signal?.aborted === true && (count === undefined || generated < count),
    seconds: (performance.now() - start) / 1000,
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
