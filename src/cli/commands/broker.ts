/** `tickflow broker`: runs the embedded Kafka-protocol broker in the foreground. */
import pino from 'pino'
import { startBroker } from '../../broker/index.ts'
import { FLUSH_POLICIES, type FlushPolicy } from '../../broker/config.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { defineCommand, hostPortOption, intOption } from '../command.ts'

const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug']

export default defineCommand({
  name: 'broker',
  summary: 'Run the embedded Kafka-protocol broker until SIGINT or SIGTERM.',
  usage: 'tickflow broker [options]',
  options: {
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:9092',
      description: 'Address to listen on (port 0 picks a free one)',
    },
    'data-dir': {
      type: 'string',
      value: 'DIR',
      default: './data',
      description: 'Where partitions, offsets and broker state are stored',
    },
    advertise: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'Address given to clients (default: the listening address)',
    },
    flush: {
      type: 'string',
      value: 'POLICY',
      default: 'sync',
      description:
        'sync: fsync before answering acks=all; interval: fsync every --flush-interval-ms; none: leave it to the OS',
    },
    'flush-interval-ms': {
      type: 'string',
      value: 'MS',
      default: '1000',
      description: 'fsync period of the interval policy',
    },
    partitions: { type: 'string', value: 'N', default: '1', description: 'Partitions of auto-created topics' },
    'no-auto-create': { type: 'boolean', description: 'Do not create unknown topics on Metadata requests' },
    'retention-ms': {
      type: 'string',
      value: 'MS',
      description: 'Default retention.ms of topics (-1 keeps forever; default 7 days)',
    },
    'retention-bytes': {
      type: 'string',
      value: 'BYTES',
      description: 'Default retention.bytes of topics (default -1: no limit)',
    },
    'segment-bytes': { type: 'string', value: 'BYTES', description: 'Default segment.bytes of topics (default 1 GiB)' },
    'log-level': {
      type: 'string',
      value: 'LEVEL',
      default: 'info',
      description: `One of ${LOG_LEVELS.join(', ')} (logs go to stderr as JSON)`,
    },
  },
  async run(values, _positionals, io) {
    const listen = hostPortOption('listen', values.listen as string)
    const advertise =
      values.advertise === undefined ? undefined : hostPortOption('advertise', values.advertise as string)
    const flush = values.flush as string
    if (!FLUSH_POLICIES.includes(flush as FlushPolicy)) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `--flush must be one of ${FLUSH_POLICIES.join(', ')}, got ${flush}`,
      )
    }
    const level = values['log-level'] as string
    if (!LOG_LEVELS.includes(level)) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${level}`,
      )
    }
    const topicDefaults: Record<string, number> = {}
    const retentionMs = intOption('retention-ms', values['retention-ms'], -1)
    const retentionBytes = intOption('retention-bytes', values['retention-bytes'], -1)
    const segmentBytes = intOption('segment-bytes', values['segment-bytes'], 14)
    if (retentionMs !== undefined) topicDefaults['retention.ms'] = retentionMs
    if (retentionBytes !== undefined) topicDefaults['retention.bytes'] = retentionBytes
    if (segmentBytes !== undefined) topicDefaults['segment.bytes'] = segmentBytes
    const broker = await startBroker({
      host: listen.host ?? '127.0.0.1',
      port: listen.port,
      advertisedHost: advertise?.host,
      advertisedPort: advertise?.port,
      dataDir: values['data-dir'] as string,
      flushPolicy: flush as FlushPolicy,
      flushIntervalMs: intOption('flush-interval-ms', values['flush-interval-ms'], 1),
      defaultPartitions: intOption('partitions', values.partitions, 1),
      autoCreateTopics: values['no-auto-create'] !== true,
      topicDefaults,
      logger: pino({ level, base: undefined }, pino.destination(2)),
    })
    io.out(`tickflow broker listening on ${broker.address} (data: ${broker.dataDir})`)
    const signal = await io.stopSignal
    io.err(`tickflow broker: ${signal} received, stopping`)
    await broker.close()
    return 0
  },
})
