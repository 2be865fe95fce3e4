/**
 * One client connection: splits the byte stream into frames, decodes request headers, runs
 * handlers, and writes responses in request order even when a later request finishes first
 * (a parked Fetch must not let a Metadata answer overtake it: clients pipeline).
 *
 *   Request  => Size int32 | ApiKey int16 | ApiVersion int16 | CorrelationId int32 |
 *               ClientId nullable-string (int16 length, even in header v2) | [tagged fields (v2)] | body
 *   Response => Size int32 | CorrelationId int32 | [tagged fields (v1)] | body
 *
 * Anything malformed closes this connection only; Kafka error codes travel inside responses.
 */
import type { Socket } from 'node:net'
import { isTickflowError } from '../errors.ts'
import { apiKeys, requestHeaderVersion, responseHeaderVersion } from '../protocol/messages/index.ts'
import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import type { BrokerContext } from './context.ts'
import { NO_RESPONSE, type RequestInfo } from './registry.ts'
import { unsupportedApiVersionsResponse } from './apis/18-api-versions.ts'

/** Pending responses per connection before we stop reading from the socket. */
const MAX_IN_FLIGHT = 1024

interface Slot {
  done: boolean
  /** Encoded response, or null for no response (acks=0) or a dropped one. */
  buffers: Buffer[] | null
}

export class Connection {
  readonly id: number
  private readonly socket: Socket
  private readonly broker: BrokerContext
  private readonly clientHost: string
  private chunks: Buffer[] = []
  private buffered = 0
  private readonly queue: Slot[] = []
  private closed = false
  private readPaused = false
  private readonly onClose: (c: Connection) => void

  constructor(id: number, socket: Socket, broker: BrokerContext, onClose: (c: Connection) => void) {
    this.id = id
    this.socket = socket
    this.broker = broker
    this.onClose = onClose
    this.clientHost = socket.remoteAddress ?? ''
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.maybeResume())
    socket.on('error', () => this.close('socket error'))
    socket.on('close', () => this.close(null))
  }

  /** Destroys the socket; parked requests finish but their responses are discarded. */
  close(reason: string | null, err?: unknown): void {
    if (this.closed) return
    this.closed = true
    if (reason !== null) {
      this.broker.options.logger.debug({ connection: this.id, reason, err }, 'closing connection')
    }
    this.socket.destroy()
    this.chunks = []
    this.queue.length = 0
    this.onClose(this)
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    try {
      this.drainFrames()
    } catch (err) {
      this.close('malformed frame', err)
    }
  }

  /** Cuts complete frames out of the buffered chunks and dispatches them. */
  private drainFrames(): void {
    while (!this.closed && this.buffered >= 4) {
      const size = this.peekSize()
      if (size < 0 || size > this.broker.options.maxRequestBytes) {
        this.close(`frame size ${size} out of bounds`)
        return
      }
      if (this.buffered < 4 + size) return
      const frame = this.take(4 + size).subarray(4)
      this.dispatch(frame)
    }
  }

  private peekSize(): number {
    const first = this.chunks[0]
    if (first.length >= 4) return first.readInt32BE(0)
    const head = Buffer.concat(this.chunks, Math.min(this.buffered, 8))
    return head.readInt32BE(0)
  }

  /** Removes and returns the next n buffered bytes (zero-copy when they sit in one chunk). */
  private take(n: number): Buffer {
    const first = this.chunks[0]
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let filled = 0
      while (filled < n) {
        const c = this.chunks[0]
        const want = n - filled
        if (c.length <= want) {
          c.copy(out, filled)
          filled += c.length
          this.chunks.shift()
        } else {
          c.copy(out, filled, 0, want)
          this.chunks[0] = c.subarray(want)
          filled += want
        }
      }
    }
    this.buffered -= n
    return out
  }

  private dispatch(frame: Buffer): void {
    const r = new Reader(frame)
    const apiKey = r.readInt16()
    const apiVersion = r.readInt16()
    const correlationId = r.readInt32()
    const api = this.broker.registry.get(apiKey)
    const known = apiKeys[apiKey]
    if (api === undefined || known === undefined) {
      this.close(`unknown API key ${apiKey}`)
      return
    }
    if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
      if (apiKey === 18) {
        // ApiVersions with a version we do not serve: answer v0 with UNSUPPORTED_VERSION and our
        // ranges so that the client can retry with one (closing would push librdkafka to legacy formats).
        this.respondRaw(correlationId, 0, unsupportedApiVersionsResponse(this.broker))
        return
      }
      this.close(`unsupported ${api.name} version ${apiVersion}`)
      return
    }
    const clientId = r.readNullableString()
    if (requestHeaderVersion(apiKey, apiVersion) >= 2) r.readTaggedFields()
    const request = api.decode(r, apiVersion)
    const info: RequestInfo = {
      apiKey,
      apiVersion,
      correlationId,
      clientId,
      clientHost: this.clientHost,
      connectionId: this.id,
    }
    const slot: Slot = { done: false, buffers: null }
    this.queue.push(slot)
    if (this.queue.length >= MAX_IN_FLIGHT) this.pauseReading()
    let result: unknown
    try {
      result = api.handle(this.broker, request, info)
    } catch (err) {
      this.handlerFailed(api.name, err)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (res) => this.complete(slot, info, res),
        (err: unknown) => this.handlerFailed(api.name, err),
      )
    } else {
      this.complete(slot, info, result)
    }
  }

  private handlerFailed(name: string, err: unknown): void {
    if (!isTickflowError(err)) this.broker.options.logger.error({ err, api: name }, 'request handler failed')
    this.close(`${name} handler failed`, err)
  }

  private complete(slot: Slot, info: RequestInfo, response: unknown): void {
    if (this.closed) return
    const api = this.broker.registry.get(info.apiKey)
    if (response !== NO_RESPONSE && api !== undefined) {
      const verdict = this.broker.options.hooks.beforeResponse?.(info)
      if (verdict === 'close') {
        this.close('closed by test hook')
        return
      }
      if (verdict !== 'drop') {
        const w = Writer.create(256)
        w.appendInt32(0).appendInt32(info.correlationId)
        if (responseHeaderVersion(info.apiKey, info.apiVersion) >= 1) w.appendEmptyTaggedFields()
        try {
          api.encode(w, info.apiVersion, response)
        } catch (err) {
          this.handlerFailed(api.name, err)
          return
        }
        const buffers = w.toBuffers()
        buffers[0].writeInt32BE(w.length - 4, 0)
        slot.buffers = buffers
      }
    }
    slot.done = true
    this.flushQueue()
  }

  private respondRaw(correlationId: number, headerVersion: number, body: Buffer): void {
    const w = Writer.create(64).appendInt32(0).appendInt32(correlationId)
    if (headerVersion >= 1) w.appendEmptyTaggedFields()
    w.appendRaw(body)
    const buffers = w.toBuffers()
    buffers[0].writeInt32BE(w.length - 4, 0)
    this.queue.push({ done: true, buffers })
    this.flushQueue()
  }

  /** Writes every finished response at the head of the queue, in order. */
  private flushQueue(): void {
    if (this.queue.length === 0 || !this.queue[0].done) return
    this.socket.cork()
    while (this.queue.length > 0 && this.queue[0].done) {
      const slot = this.queue.shift() as Slot
      if (slot.buffers !== null) for (const b of slot.buffers) this.socket.write(b)
    }
    this.socket.uncork()
    this.maybeResume()
  }

  private pauseReading(): void {
    if (!this.readPaused) {
      this.readPaused = true
      this.socket.pause()
    }
  }

  private maybeResume(): void {
    if (this.readPaused && this.queue.length < MAX_IN_FLIGHT / 2 && this.socket.writableLength < 16 * 1024 * 1024) {
      this.readPaused = false
      this.socket.resume()
    } else if (!this.readPaused && this.socket.writableLength >= 16 * 1024 * 1024) {
      // The client reads slower than we answer: stop taking new requests until it catches up.
      this.pauseReading()
    }
  }
}
