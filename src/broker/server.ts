/**
 * The TCP listener: accepts connections and hands each to a Connection. Closing stops accepting,
 * destroys open connections and resolves when the listener is closed.
 */
import net from 'node:net'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { Connection } from './connection.ts'
import type { BrokerContext } from './context.ts'

export class BrokerServer {
  private readonly server: net.Server
  private readonly connections = new Set<Connection>()
  private readonly broker: BrokerContext
  private nextConnectionId = 1

  constructor(broker: BrokerContext) {
    this.broker = broker
    this.server = net.createServer({ noDelay: true }, (socket) => {
      const c = new Connection(this.nextConnectionId++, socket, broker, (conn) => this.connections.delete(conn))
      this.connections.add(c)
    })
  }

  /** Binds; resolves with the bound address. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new TickflowError(ErrorCodes.LISTEN, `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
            cause: err,
          }),
        )
      }
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        this.server.on('error', (err) => this.broker.options.logger.error({ err }, 'listener error'))
        const addr = this.server.address() as net.AddressInfo
        resolve({ host: addr.address, port: addr.port })
      })
    })
  }

  get connectionCount(): number {
    return this.connections.size
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      for (const c of [...this.connections]) c.close('broker closing')
    })
  }
}
