/**
 * The embedded Kafka-protocol broker. `startBroker(options)` recovers the data directory, listens
 * and returns a handle; `close()` stops it cleanly (logs flushed and closed, offsets saved).
 */
import { registerApis } from './apis/index.ts'
import { resolveBrokerOptions, type BrokerOptions } from './config.ts'
import { BrokerContext } from './context.ts'
import { DataDirLock } from './lock.ts'
import { ApiRegistry } from './registry.ts'
import { BrokerServer } from './server.ts'

export type { BrokerOptions, BrokerHooks, FlushPolicy, Logger } from './config.ts'
export { BrokerContext } from './context.ts'
export { readBrokerLock, LOCK_FILE, type BrokerLockInfo } from './lock.ts'

export interface Broker {
  /** Host and port clients connect to. */
  readonly host: string
  readonly port: number
  /** `host:port`, the bootstrap address for clients. */
  readonly address: string
  readonly dataDir: string
  readonly context: BrokerContext
  close(): Promise<void>
}

/**
 * Starts a broker: locks the data directory (see `lock.ts`), recovers it, listens, and rewrites
 * the lock with the address clients should use. Throws TICKFLOW_ERR_DATA_DIR_LOCKED when another
 * running broker holds the directory, TICKFLOW_ERR_LISTEN when the port cannot be bound; a failed
 * start leaves nothing open and the directory unlocked.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const resolved = resolveBrokerOptions(options)
  // Before anything in the directory is read or opened.
  const lock = DataDirLock.acquire(resolved.dataDir, resolved.advertisedHost ?? resolved.host)
  let context: BrokerContext | undefined
  let server: BrokerServer | undefined
  let host: string
  let port: number
  try {
    context = new BrokerContext(resolved, registerApis(new ApiRegistry()))
    await context.transactions.recover()
    server = new BrokerServer(context)
    const bound = await server.listen(resolved.host, resolved.port)
    host = resolved.advertisedHost ?? (bound.host === '0.0.0.0' || bound.host === '::' ? '127.0.0.1' : bound.host)
    port = resolved.advertisedPort ?? bound.port
    context.advertised = { host, port }
    lock.setAddress(host, port)
  } catch (err) {
    try {
      // Closing a server that never listened is a no-op.
      await server?.close()
      await context?.close()
    } finally {
      lock.release()
    }
    throw err
  }
  const started = { context, server }
  let closing: Promise<void> | undefined
  return {
    host,
    port,
    address: `${host}:${port}`,
    dataDir: resolved.dataDir,
    context,
    close() {
      closing ??= (async () => {
        try {
          await started.server.close()
          await started.context.close()
        } finally {
          // Last: only once every log is flushed and closed may another broker open the directory.
          // Released even when closing failed, or this process would hold it until it exits.
          lock.release()
        }
      })()
      return closing
    },
  }
}
