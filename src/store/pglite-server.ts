/**
 * The embedded database over PostgreSQL's wire protocol, on a local port: the process that owns
 * the PGlite directory serves it, so other tickflow commands (and psql, or any PostgreSQL client)
 * use the same data while it runs. The lock file `db.lock` in the directory names the port.
 *
 * PGlite is one session. A client takes it (the driver's mutex) from its first message until
 * PGlite answers ReadyForQuery with status idle — not inside a transaction — and gives it back
 * then, so clients and the owner's own statements take turns and never see each other's open
 * transactions. Session state set with SET, and named prepared statements, are shared by every
 * client. Authentication is not asked for: the port listens on 127.0.0.1 only.
 *
 * Protocol (PostgreSQL 3.0): the startup phase is answered here (SSL and GSS encryption refused
 * with 'N', AuthenticationOk, a few ParameterStatus, BackendKeyData, ReadyForQuery); every later
 * message — `type byte, int32 length, body` — goes to PGlite as is, and its answer back. A
 * malformed frame closes that one connection.
 */
import net from 'node:net'
import type { PgliteDatabase } from './pglite-driver.ts'

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
/** Startup packets and messages larger than this close the connection. */
const MAX_MESSAGE = 64 * 1024 * 1024

export interface WireServer {
  readonly host: string
  readonly port: number
  /** Open client connections. */
  readonly connections: number
  close(): Promise<void>
}

/** Serves `db` on `host:port` (port 0: any free port). */
export async function servePglite(db: PgliteDatabase, host = '127.0.0.1', port = 0): Promise<WireServer> {
  const parameters = await startupParameters(db)
  const sockets = new Set<net.Socket>()
  let nextPid = 1
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    new WireSession(db, socket, parameters, nextPid++).start()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as net.AddressInfo
  return {
    host,
    port: address.port,
    get connections() {
      return sockets.size
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function startupParameters(db: PgliteDatabase): Promise<Array<[string, string]>> {
  const r = await db.query<{ v: string; e: string; d: string; t: string }>(
    `SELECT current_setting('server_version') AS v, current_setting('server_encoding') AS e, ` +
      `current_setting('DateStyle') AS d, current_setting('TimeZone') AS t`,
  )
  const row = r.rows[0]
  return [
    ['server_version', row.v],
    ['server_encoding', row.e],
    ['client_encoding', 'UTF8'],
    ['DateStyle', row.d],
    ['TimeZone', row.t],
    ['integer_datetimes', 'on'],
    ['standard_conforming_strings', 'on'],
    ['application_name', 'tickflow'],
  ]
}

class WireSession {
  private readonly db: PgliteDatabase
  private readonly socket: net.Socket
  private readonly parameters: Array<[string, string]>
  private readonly pid: number
  private chunks: Buffer[] = []
  private buffered = 0
  private started = false
  /** Complete messages waiting for their turn. */
  private readonly queue: Buffer[] = []
  /** The session is ours (between our first message and an idle ReadyForQuery). */
  private release: (() => void) | undefined
  private working = false
  private closed = false
  /** Transaction status of PGlite's last ReadyForQuery: I idle, T in a transaction, E failed one. */
  private status = 'I'

  constructor(db: PgliteDatabase, socket: net.Socket, parameters: Array<[string, string]>, pid: number) {
    this.db = db
    this.socket = socket
    this.parameters = parameters
    this.pid = pid
  }

  start(): void {
    this.socket.setNoDelay(true)
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', () => this.onClose())
    this.socket.on('close', () => this.onClose())
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    try {
      this.frame()
    } catch {
      this.socket.destroy()
      return
    }
    void this.pump()
  }

  // Cuts the received bytes into startup packets and messages.
  private frame(): void {
    for (;;) {
      const header = this.started ? 5 : 4
      if (this.buffered < header) return
      const head = this.peek(header)
      const length = this.started ? head.readInt32BE(1) + 1 : head.readInt32BE(0)
      if (length < header || length > MAX_MESSAGE) throw new Error('bad frame length')
      if (this.buffered < length) return
      const frame = this.take(length)
      if (this.started) this.queue.push(frame)
      else this.startup(frame)
    }
  }

  private startup(packet: Buffer): void {
    if (packet.length < 8) throw new Error('short startup packet')
    const code = packet.readInt32BE(4)
    if (code === SSL_REQUEST || code === GSS_REQUEST) {
      this.socket.write('N')
      return
    }
    if (code === CANCEL_REQUEST) {
      this.socket.end()
      return
    }
    if (code !== PROTOCOL_3) {
      this.socket.end(errorResponse('0A000', `unsupported protocol ${code >> 16}.${code & 0xffff}`))
      return
    }
    this.started = true
    const out: Buffer[] = [message('R', int32(0))]
    for (const [name, value] of this.parameters) out.push(message('S', cstring(name), cstring(value)))
    out.push(message('K', int32(this.pid), int32(0)))
    out.push(message('Z', Buffer.from('I')))
    this.socket.write(Buffer.concat(out))
  }

  // Runs the queued messages in order, holding the session while a turn lasts.
  private async pump(): Promise<void> {
    if (this.working) return
    this.working = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        const msg = this.queue.shift()!
        if (msg[0] === 0x58) {
          // Terminate
          this.socket.end()
          return
        }
        await this.acquire()
        const reply = await this.db.pglite.execProtocolRaw(msg)
        if (reply.length > 0) {
          this.status = lastReadyStatus(reply) ?? this.status
          if (!this.closed) this.socket.write(reply)
        }
        // An idle ReadyForQuery ends the turn: give the session back unless more is queued.
        if (this.status === 'I' && endsWithReady(reply) && this.queue.length === 0) this.giveBack()
      }
    } catch {
      this.socket.destroy()
    } finally {
      this.working = false
    }
  }

  private acquire(): Promise<void> {
    if (this.release !== undefined) return Promise.resolve()
    return new Promise<void>((granted) => {
      void this.db.session.run(
        () =>
          new Promise<void>((done) => {
            this.release = done
            granted()
          }),
      )
    })
  }

  private giveBack(): void {
    const release = this.release
    this.release = undefined
    release?.()
  }

  private onClose(): void {
    if (this.closed) return
    this.closed = true
    // A client gone in the middle of a transaction: roll it back before anyone else's turn.
    const finish = async (): Promise<void> => {
      while (this.working) await new Promise((r) => setTimeout(r, 5))
      if (this.release !== undefined && this.status !== 'I') {
        await this.db.pglite.execProtocolRaw(message('Q', cstring('ROLLBACK'))).catch(() => undefined)
      }
      this.giveBack()
    }
    void finish()
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) {
      this.chunks = [Buffer.concat(this.chunks)]
    }
    return this.chunks[0].subarray(0, n)
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    const out = Buffer.from(all.subarray(0, n))
    const rest = all.subarray(n)
    this.chunks = rest.length > 0 ? [rest] : []
    this.buffered -= n
    return out
  }
}

/** The status byte of the last ReadyForQuery in `reply`, if any. */
function lastReadyStatus(reply: Uint8Array): string | undefined {
  let at = 0
  let status: string | undefined
  while (at + 5 <= reply.length) {
    const length = ((reply[at + 1] << 24) | (reply[at + 2] << 16) | (reply[at + 3] << 8) | reply[at + 4]) >>> 0
    if (reply[at] === 0x5a && length === 5 && at + 6 <= reply.length) status = String.fromCharCode(reply[at + 5])
    at += 1 + length
  }
  return status
}

function endsWithReady(reply: Uint8Array): boolean {
  return (
    reply.length >= 6 &&
    reply[reply.length - 6] === 0x5a &&
    reply[reply.length - 5] === 0 &&
    reply[reply.length - 2] === 5
  )
}

function message(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)])
}

function errorResponse(code: string, text: string): Buffer {
  return message(
    'E',
    Buffer.from('S'),
    cstring('FATAL'),
    Buffer.from('C'),
    cstring(code),
    Buffer.from('M'),
    cstring(text),
    Buffer.alloc(1),
  )
}
