/**
 * A minimal Kafka client for tests: sends requests encoded with the generated codecs over one TCP
 * connection and decodes the responses. Lets tests speak to the broker at the protocol level
 * (exact versions, malformed frames) without a client library's retries in the way.
 */
import net from 'node:net'
import { requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/messages/index.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'

type Encode<T> = (w: Writer, version: number, value: T) => unknown
type Decode<R> = (r: Reader, version: number) => R

/** Encodes one request frame, size prefix included. */
export function encodeRequestFrame<Req>(
  apiKey: number,
  version: number,
  correlationId: number,
  encode: Encode<Req>,
  body: Req,
  clientId: string | null = 'raw-test',
): Buffer {
  const w = Writer.create().appendInt32(0).appendInt16(apiKey).appendInt16(version).appendInt32(correlationId)
  w.appendNullableString(clientId)
  if (requestHeaderVersion(apiKey, version) >= 2) w.appendEmptyTaggedFields()
  encode(w, version, body)
  const frame = w.toBuffer()
  frame.writeInt32BE(frame.length - 4, 0)
  return frame
}

/** Decodes a response frame (without its size prefix) of `apiKey` at `version`. */
export function decodeResponseFrame<Res>(payload: Buffer, apiKey: number, version: number, decode: Decode<Res>): Res {
  const r = new Reader(payload)
  r.readInt32() // correlation id
  if (responseHeaderVersion(apiKey, version) >= 1) r.readTaggedFields()
  return decode(r, version)
}

export class RawClient {
  private readonly socket: net.Socket
  private buffered = Buffer.alloc(0)
  private nextCorrelationId = 1
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>()
  private closedError: Error | null = null
  readonly closed: Promise<void>
  /** Correlation ids of every response received, in arrival order. */
  readonly arrivals: number[] = []
  /** Response frames that no request was waiting for (e.g. an answer to an acks=0 produce). */
  readonly unmatched: Buffer[] = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    // Small writes leave at once (tests split frames into single bytes on purpose).
    socket.setNoDelay(true)
    socket.on('data', (chunk) => this.onData(chunk))
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedError = new Error('connection closed')
        for (const p of this.pending.values()) p.reject(this.closedError)
        this.pending.clear()
        resolve()
      })
    })
    socket.on('error', () => {})
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new RawClient(socket)))
      socket.once('error', reject)
    })
  }

  /** Sends a request and resolves with the decoded response. */
  async request<Req, Res>(
    apiKey: number,
    version: number,
    encode: Encode<Req>,
    decode: Decode<Res>,
    body: Req,
    clientId: string | null = 'raw-test',
  ): Promise<Res> {
    const payload = await this.requestRaw(apiKey, version, encode, body, clientId)
    return decodeResponseFrame(payload, apiKey, version, decode)
  }

  /** Sends a request and resolves with the response frame (without its size prefix). */
  requestRaw<Req>(
    apiKey: number,
    version: number,
    encode: Encode<Req>,
    body: Req,
    clientId: string | null = 'raw-test',
  ): Promise<Buffer> {
    const correlationId = this.nextCorrelationId++
    return this.sendFrame(encodeRequestFrame(apiKey, version, correlationId, encode, body, clientId), correlationId)
  }

  /** Sends a request that expects no response (acks=0 produce); returns its correlation id. */
  sendOnly<Req>(
    apiKey: number,
    version: number,
    encode: Encode<Req>,
    body: Req,
    clientId: string | null = 'raw-test',
  ): number {
    const correlationId = this.nextCorrelationId++
    // Nothing to wait for; a closed connection shows up in the caller's next request.
    this.sendFrame(encodeRequestFrame(apiKey, version, correlationId, encode, body, clientId)).catch(() => {})
    return correlationId
  }

  /** A correlation id for a hand-built frame, never used by this client's own requests. */
  takeCorrelationId(): number {
    return this.nextCorrelationId++
  }

  /** Resolves with the response to `correlationId`, for frames written by a later sendFrame. */
  expect(correlationId: number): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError)
    return new Promise<Buffer>((resolve, reject) => this.pending.set(correlationId, { resolve, reject }))
  }

  /** Sends bytes as they are; resolves with the response to `correlationId` when one is expected. */
  sendFrame(frame: Buffer, correlationId?: number): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError)
    const p = new Promise<Buffer>((resolve, reject) => {
      if (correlationId !== undefined) this.pending.set(correlationId, { resolve, reject })
      else resolve(Buffer.alloc(0))
    })
    this.socket.write(frame)
    return p
  }

  close(): void {
    this.socket.destroy()
  }

  /** Half-closes: the broker reads everything sent so far, then closes its side. */
  end(): void {
    this.socket.end()
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0)
      if (this.buffered.length < 4 + size) return
      const frame = this.buffered.subarray(4, 4 + size)
      this.buffered = this.buffered.subarray(4 + size)
      const id = frame.readInt32BE(0)
      this.arrivals.push(id)
      const p = this.pending.get(id)
      if (p !== undefined) {
        this.pending.delete(id)
        p.resolve(frame)
      } else {
        this.unmatched.push(frame)
      }
    }
  }
}
