/**
 * Where the bus connects: a list of bootstrap brokers, parsed and checked once, shared by every
 * producer, reader and admin call of a command.
 */
import net from 'node:net'
import { ErrorCodes, TickflowError } from '../errors.ts'

/** How clients of one command reach the cluster. */
export interface BusConfig {
  /** `host:port` bootstrap addresses. */
  bootstrapBrokers: string[]
  /** The Kafka client id the command's clients send. */
  clientId: string
}

/**
 * Parses `host:port,host:port` (IPv6 hosts in brackets). A missing port means 9092.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT with a one-line message for an empty or malformed list
 */
export function parseBrokerList(text: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (items.length === 0) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'the broker list is empty')
  return items.map((item) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+)(?::(\d+))?$/.exec(item)
    const port = m?.[2] === undefined ? 9092 : Number(m[2])
    if (m === null || !(port >= 1 && port <= 65535)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `not a broker address (host:port): ${item}`)
    }
    return `${m[1]}:${port}`
  })
}

/** True when something accepts TCP connections at host:port within `timeoutMs`. */
export function probeTcp(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/**
 * The client library reports UNKNOWN_TOPIC_OR_PARTITION from a metadata request as a user error
 * naming the topic; this turns it into TICKFLOW_ERR_UNKNOWN_TOPIC and leaves other errors alone.
 */
export function asUnknownTopic(err: unknown): unknown {
  const m = /^unknown topic (.*?)\.?$/i.exec((err as Error)?.message ?? '')
  if ((err as { code?: string }).code === 'PLT_KFK_USER' && m !== null) {
    return new TickflowError(ErrorCodes.UNKNOWN_TOPIC, `topic ${m[1]} does not exist`, { cause: err })
  }
  return err
}
