/**
 * Which broker a client command talks to, in order:
 *   1. `--brokers` or TICKFLOW_BROKERS: a Kafka cluster (tickflow's broker or Apache Kafka);
 *   2. a broker listening on 127.0.0.1:9092 (`tickflow broker` or `tickflow up` in another terminal;
 *      TICKFLOW_LOCAL_BROKER names another address);
 *   3. the broker of another tickflow command that holds the data dir (its lock file has the address);
 *   4. otherwise an embedded broker started in this process on the data dir, stopped on exit —
 *      so `tickflow produce` and a later `tickflow stats` see the same data without any server.
 * The choice is said in one line on stderr.
 */
import { startBroker, readBrokerLock, type Broker } from '../broker/index.ts'
import { parseBrokerList, probeTcp, type BusConfig } from '../bus/client.ts'
import { isTickflowError, ErrorCodes } from '../errors.ts'
import type { CommandIO, OptionSpec } from './command.ts'

/** The options every client command has. */
export const CONNECT_OPTIONS: Record<string, OptionSpec> = {
  brokers: {
    type: 'string',
    value: 'HOST:PORT,...',
    description: 'Kafka bootstrap brokers (default: TICKFLOW_BROKERS, else the local tickflow broker)',
  },
  'data-dir': {
    type: 'string',
    value: 'DIR',
    description: 'Data dir of the local broker (default: TICKFLOW_DATA_DIR, else ./data)',
  },
}

/** The default local broker address. */
export const LOCAL_BROKER = { host: '127.0.0.1', port: 9092 }

/** A resolved connection; `close` stops the in-process broker, if one was started. */
export interface Connection {
  bus: BusConfig
  /** How the brokers were found: one line for the user. */
  description: string
  kind: 'external' | 'local' | 'shared' | 'in-process'
  close(): Promise<void>
}

export interface ConnectOptions {
  brokers?: string
  dataDir?: string
  clientId: string
  env?: NodeJS.ProcessEnv
  /** Where the one-line description goes (stderr); omitted = silent. */
  say?: (line: string) => void
}

/** Resolves the brokers as described above. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const env = options.env ?? process.env
  const explicit = options.brokers ?? (env.TICKFLOW_BROKERS === '' ? undefined : env.TICKFLOW_BROKERS)
  const dataDir = options.dataDir ?? (env.TICKFLOW_DATA_DIR || './data')
  const local = parseBrokerList(env.TICKFLOW_LOCAL_BROKER || `${LOCAL_BROKER.host}:${LOCAL_BROKER.port}`)[0]
  const made = await resolve(explicit, options.brokers !== undefined, dataDir, options.clientId, local)
  options.say?.(`tickflow: ${made.description}`)
  return made
}

async function resolve(
  explicit: string | undefined,
  fromFlag: boolean,
  dataDir: string,
  clientId: string,
  local: string,
): Promise<Connection> {
  const noop = async (): Promise<void> => {}
  if (explicit !== undefined) {
    const brokers = parseBrokerList(explicit)
    return {
      bus: { bootstrapBrokers: brokers, clientId },
      description: `using the Kafka brokers ${brokers.join(',')} (${fromFlag ? '--brokers' : 'TICKFLOW_BROKERS'})`,
      kind: 'external',
      close: noop,
    }
  }
  const sep = local.lastIndexOf(':')
  if (await probeTcp(local.slice(0, sep).replace(/^\[|\]$/g, ''), Number(local.slice(sep + 1)))) {
    return {
      bus: { bootstrapBrokers: [local], clientId },
      description: `using the broker listening on ${local}`,
      kind: 'local',
      close: noop,
    }
  }
  for (let attempt = 0; ; attempt++) {
    const lock = readBrokerLock(dataDir)
    if (lock !== undefined && lock.port > 0) {
      const address = `${lock.host}:${lock.port}`
      return {
        bus: { bootstrapBrokers: [address], clientId },
        description: `using the broker of process ${lock.pid} on ${address} (data dir ${dataDir})`,
        kind: 'shared',
        close: noop,
      }
    }
    let broker: Broker
    try {
      broker = await startBroker({ host: '127.0.0.1', port: 0, dataDir, defaultPartitions: 1 })
    } catch (err) {
      // Another command took the data dir between our look and our start, or is still starting
      // (its lock has no port yet): wait for its address.
      if (isTickflowError(err, ErrorCodes.DATA_DIR_LOCKED) && attempt < 50) {
        await new Promise((r) => setTimeout(r, 100))
        continue
      }
      throw err
    }
    return {
      bus: { bootstrapBrokers: [broker.address], clientId },
      description: `no broker on ${local}: started an embedded broker on data dir ${broker.dataDir} for this command`,
      kind: 'in-process',
      close: () => broker.close(),
    }
  }
}

/** `connect` with the command's --brokers/--data-dir values, saying the choice on stderr. */
export function connectFromOptions(
  values: Record<string, string | boolean | undefined>,
  io: CommandIO,
  clientId: string,
): Promise<Connection> {
  return connect({
    brokers: values.brokers as string | undefined,
    dataDir: values['data-dir'] as string | undefined,
    clientId,
    say: io.err,
  })
}
