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
 * message — `type byte, int32 length, body` — goes to PGlite as is, and its answer back, except
 * COPY … FROM STDIN, which PGlite cannot read (see copy-statement.ts): the server answers
 * CopyInResponse itself, collects the CopyData until CopyDone, and runs the statement on the
 * collected bytes. A malformed frame closes that one connection.
 */
import net from 'node:net'
import { parseCopyFromStdin, type CopyFromStdin } from './copy-statement.ts'
import type { PgliteDatabase } from './pglite-driver.ts'

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
/** Startup packets and messages larger than this close the connection. */
const MAX_MESSAGE = 64 * 1024 * 1024
/** COPY FROM STDIN data is held in memory until CopyDone: a COPY of more fails. */
const MAX_COPY_BYTES = 1024 * 1024 * 1024
/** A statement PGlite runs to refuse, at execution, a COPY FROM STDIN it would hang on. */
const REFUSED_COPY =
  "DO $$BEGIN RAISE EXCEPTION 'COPY FROM STDIN on the embedded database must be a simple query of that one statement' " +
  "USING ERRCODE = 'feature_not_supported'; END$$"

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
  /** A COPY FROM STDIN between CopyInResponse and CopyDone: its statement and the data so far. */
  private copyIn: { statement: CopyFromStdin; chunks: Buffer[]; bytes: number; tooLarge: boolean } | undefined

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
        const reply = await this.execute(msg)
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

  // One message's answer: from PGlite, or for COPY FROM STDIN from the steps below.
  private async execute(msg: Buffer): Promise<Uint8Array> {
    if (this.copyIn !== undefined) return this.copyMessage(msg)
    const type = msg[0]
    if (type === 0x51 /* Query */) {
      const sql = msg.toString('utf8', 5, msg.length - 1)
      const copy = parseCopyFromStdin(sql)
      if (copy === 'refused') return this.db.pglite.execProtocolRaw(message('Q', cstring(REFUSED_COPY)))
      if (copy !== undefined) return this.startCopy(copy)
    } else if (type === 0x50 /* Parse */) {
      const nameEnd = msg.indexOf(0, 5)
      const queryEnd = msg.indexOf(0, nameEnd + 1)
      if (
        nameEnd > 0 &&
        queryEnd > 0 &&
        parseCopyFromStdin(msg.toString('utf8', nameEnd + 1, queryEnd)) !== undefined
      ) {
        // Refused when executed, in the extended protocol's own error flow.
        const name = msg.subarray(5, nameEnd + 1)
        return this.db.pglite.execProtocolRaw(message('P', name, cstring(REFUSED_COPY), int16(0)))
      }
    }
    return this.db.pglite.execProtocolRaw(msg)
  }

  // Answers CopyInResponse with the statement's columns, or its error (no such table or column).
  private async startCopy(statement: CopyFromStdin): Promise<Uint8Array> {
    let columns: number
    try {
      columns = (await this.db.pglite.query(statement.columnsSql)).fields.length
    } catch (err) {
      return Buffer.concat([errorFrom(err), await this.ready()])
    }
    this.copyIn = { statement, chunks: [], bytes: 0, tooLarge: false }
    const format = statement.binary ? 1 : 0
    const codes = Array.from({ length: columns }, () => int16(format))
    return message('G', Buffer.from([format]), int16(columns), ...codes)
  }

  // CopyData is collected; CopyDone runs the statement; CopyFail or another message ends the COPY.
  private async copyMessage(msg: Buffer): Promise<Uint8Array> {
    const copy = this.copyIn!
    switch (msg[0]) {
      case 0x64 /* CopyData */: {
        const length = msg.length - 5
        if (copy.bytes + length > MAX_COPY_BYTES) {
          copy.tooLarge = true
          copy.chunks = []
        } else if (!copy.tooLarge) {
          copy.chunks.push(msg.subarray(5))
          copy.bytes += length
        }
        return new Uint8Array(0)
      }
      case 0x48 /* Flush */:
      case 0x53 /* Sync */:
        return new Uint8Array(0)
    }
    this.copyIn = undefined
    if (msg[0] === 0x66 /* CopyFail */) {
      const why = msg.toString('utf8', 5, Math.max(5, msg.length - 1))
      return Buffer.concat([errorResponse('57014', `COPY from stdin failed: ${why}`, 'ERROR'), await this.ready()])
    }
    if (msg[0] !== 0x63 /* CopyDone */) {
      const what = `unexpected message type 0x${msg[0].toString(16)} during COPY from stdin`
      return Buffer.concat([errorResponse('08P01', what, 'ERROR'), await this.ready()])
    }
    if (copy.tooLarge) {
      const what = `COPY from stdin of more than ${MAX_COPY_BYTES} bytes: copy it in parts`
      return Buffer.concat([errorResponse('54000', what, 'ERROR'), await this.ready()])
    }
    try {
      const r = await this.db.pglite.query(copy.statement.blobSql, [], { blob: new Blob(copy.chunks) })
      return Buffer.concat([message('C', cstring(`COPY ${r.affectedRows ?? 0}`)), await this.ready()])
    } catch (err) {
      return Buffer.concat([errorFrom(err), await this.ready()])
    }
  }

  // ReadyForQuery with PGlite's transaction status, which a Sync outside a query reports.
  private ready(): Promise<Uint8Array> {
    return this.db.pglite.execProtocolRaw(message('S'))
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

function int16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)])
}

function errorResponse(code: string, text: string, severity = 'FATAL'): Buffer {
  return errorFields([
    ['S', severity],
    ['V', severity],
    ['C', code],
    ['M', text],
  ])
}

/** PGlite's error (a DatabaseError with PostgreSQL's fields) as an ErrorResponse. */
function errorFrom(err: unknown): Buffer {
  const e = (err ?? {}) as Record<string, unknown>
  const field = (name: string): string | undefined => (typeof e[name] === 'string' ? (e[name] as string) : undefined)
  const fields: Array<[string, string | undefined]> = [
    ['S', field('severity') ?? 'ERROR'],
    ['V', field('severity') ?? 'ERROR'],
    ['C', field('code') ?? 'XX000'],
    ['M', field('message') ?? String(err)],
    ['D', field('detail')],
    ['H', field('hint')],
    ['W', field('where')],
    ['s', field('schema')],
    ['t', field('table')],
    ['c', field('column')],
    ['d', field('dataType')],
    ['n', field('constraint')],
  ]
  return errorFields(fields)
}

function errorFields(fields: Array<[string, string | undefined]>): Buffer {
  const parts: Buffer[] = []
  for (const [code, value] of fields) if (value !== undefined) parts.push(Buffer.from(code, 'latin1'), cstring(value))
  return message('E', ...parts, Buffer.alloc(1))
}
