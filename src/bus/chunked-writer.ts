/**
 * What both topic writers share: records queue into chunks; a full chunk is sent at once (the
 * caller waits), a partial one after the linger time; one chunk is in flight at a time, so the
 * records of a partition stay in order across retries, and the next chunk fills while one is sent.
 */

/** What the feeds write to: {@link TopicWriter} or {@link BatchWriter}. */
export interface RecordWriter {
  readonly acked: number
  write(key: string | undefined, value: string | Buffer): Promise<void> | undefined
  flush(): Promise<void>
  close(): Promise<void>
}

export abstract class ChunkedWriter<T> {
  readonly topic: string
  /** Records acknowledged by the cluster. */
  acked = 0
  private readonly chunkSize: number
  private readonly lingerMs: number
  private readonly keyCache = new Map<string, Buffer>()
  private pending: T[] = []
  private inflight: Promise<void> | undefined
  private linger: NodeJS.Timeout | undefined
  private failure: unknown

  constructor(topic: string, chunkSize: number, lingerMs: number) {
    this.topic = topic
    this.chunkSize = chunkSize
    this.lingerMs = lingerMs
  }

  /** Sends everything queued and waits for its acknowledgement. */
  async flush(): Promise<void> {
    while ((this.pending.length > 0 && this.failure === undefined) || this.inflight !== undefined) {
      await this.dispatch()
      if (this.inflight !== undefined) await this.inflight
    }
    if (this.failure !== undefined) throw this.failure
  }

  /** Flushes, then releases the connections. */
  async close(): Promise<void> {
    clearTimeout(this.linger)
    try {
      await this.flush()
    } finally {
      await this.release()
    }
  }

  /** Sends one chunk, counting what is acknowledged in `acked`; rejects when it cannot be sent. */
  protected abstract sendChunk(items: T[]): Promise<void>

  /** Closes the writer's clients. */
  protected abstract release(): Promise<void>

  /**
   * Queues one item. Returns a promise when the caller should wait before writing more (a chunk is
   * full and the previous one is still in flight), undefined otherwise.
   * @throws the error of an earlier chunk that failed after its retries
   */
  protected enqueue(item: T): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure
    this.pending.push(item)
    if (this.pending.length >= this.chunkSize) return this.dispatch()
    this.linger ??= setTimeout(() => {
      this.linger = undefined
      void this.dispatch()
    }, this.lingerMs)
    return undefined
  }

  /** The bytes of a key, cached for the handful of keys (symbols) feeds repeat. */
  protected keyBuffer(key: string): Buffer {
    let buf = this.keyCache.get(key)
    if (buf === undefined) {
      buf = Buffer.from(key)
      if (this.keyCache.size < 10_000) this.keyCache.set(key, buf)
    }
    return buf
  }

  // Waits for the chunk in flight, then sends the pending one and returns while it is in flight.
  private async dispatch(): Promise<void> {
    while (this.inflight !== undefined) await this.inflight
    if (this.pending.length === 0 || this.failure !== undefined) return
    clearTimeout(this.linger)
    this.linger = undefined
    const items = this.pending
    this.pending = []
    this.inflight = this.sendChunk(items).then(
      () => {
        this.inflight = undefined
      },
      (err: unknown) => {
        this.failure ??= err
        this.inflight = undefined
      },
    )
  }
}
