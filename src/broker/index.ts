/**
 * The embedded Kafka-protocol broker. `startBroker(options)` recovers the data directory, listens
 * and returns a handle; `close()` stops it cleanly (logs flushed and closed, offsets saved).
 */
import { registerApis } from './apis/index.ts'
import { resolveBrokerOptions, type BrokerOptions } from './config.ts'
import { BrokerContext } from './context.ts'
import { ApiRegistry } from './registry.ts'
import { BrokerServer } from './server.ts'

export type { BrokerOptions, BrokerHooks, FlushPolicy, Logger } from './config.ts'
export { BrokerContext } from './context.ts'

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

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const resolved = resolveBrokerOptions(options)
  const registry = registerApis(new ApiRegistry())
  const context = new BrokerContext(resolved, registry)
  try {
    await context.transactions.recover()
  } catch (err) {
    await context.close()
    throw err
  }
  const server = new BrokerServer(context)
  let bound: { host: string; port: number }
  try {
    bound = await server.listen(resolved.host, resolved.port)
  } catch (err) {
    await context.close()
    throw err
  }
  const host = resolved.advertisedHost ?? (bound.host === '0.0.0.0' || bound.host === '::' ? '127.0.0.1' : bound.host)
  const port = resolved.advertisedPort ?? bound.port
  context.advertised = { host, port }
  let closing: Promise<void> | undefined
  return {
    host,
    port,
    address: `${host}:${port}`,
    dataDir: resolved.dataDir,
    context,
    close() {
      closing ??= (async () => {
        await server.close()
        await context.close()
      })()
      return closing
    },
  }
}
