/**
 * `tickflow archive`: consumes topics into the database — every record to the raw archive, known
 * topics also to their typed tables, routed topics to their own tables — exactly once, resuming
 * from the offsets stored with the rows.
 */
import { KafkaCluster } from '../../bus/cluster.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { runArchiver, type ArchiverStats } from '../../store/archiver.ts'
import { DEFAULT_ROUTES } from '../../store/tables.ts'
import { defineCommand, durationOption, intOption } from '../command.ts'
import { CONFIG_OPTION, loadConfig } from '../config-file.ts'
import { CONNECT_OPTIONS, connectFromOptions } from '../connect.ts'
import { DATABASE_OPTIONS, openStoreFromOptions } from '../database.ts'
import { formatCount, progress } from '../progress.ts'

export default defineCommand({
  name: 'archive',
  summary: 'Store every record of the topics in the database, exactly once (Ctrl-C to stop).',
  usage: 'tickflow archive [--topics a,b | --all] [--database-url URL] [--config FILE]',
  options: {
    topics: { type: 'string', value: 'LIST', description: 'Topics to archive (default: all of them)' },
    all: { type: 'boolean', description: 'Every topic, also those created later (the default)' },
    name: {
      type: 'string',
      value: 'NAME',
      default: 'archive',
      description: 'Name of this archiver’s offsets in the database (one archiver per name)',
    },
    'batch-records': {
      type: 'string',
      value: 'N',
      default: '20000',
      description: 'Records per database transaction at most',
    },
    linger: {
      type: 'string',
      value: 'DURATION',
      default: '200ms',
      description: 'A batch is written at the latest this long after its first record',
    },
    quiet: { type: 'boolean', short: 'q', description: 'No progress line' },
    ...CONFIG_OPTION,
    ...DATABASE_OPTIONS,
    ...CONNECT_OPTIONS,
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `unexpected argument ${positionals[0]} (use --topics)`)
    }
    const list = values.topics as string | undefined
    if (list !== undefined && values.all === true) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, '--topics and --all exclude each other')
    }
    const topics =
      list === undefined
        ? ('all' as const)
        : list
            .split(',')
            .map((t) => t.trim())
            .filter((t) => t !== '')
    if (topics !== 'all' && topics.length === 0)
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, '--topics is empty')
    const maxBatchRecords = intOption('batch-records', values['batch-records'], 1)
    const lingerMs = durationOption('linger', values.linger)
    const config = loadConfig(values.config as string | undefined)
    const routes = config.archive.routes ?? [...DEFAULT_ROUTES]
    if (config.source !== undefined) io.err(`tickflow: config from ${config.source} (${routes.length} routes)`)

    const connection = await connectFromOptions(values, io, 'tickflow-archive')
    let store
    try {
      store = await openStoreFromOptions(values, io.err, true)
    } catch (err) {
      await connection.close()
      throw err
    }
    const abort = new AbortController()
    void io.stopSignal.then(() => abort.abort())
    const bar = progress(io, values.quiet === true)
    let stats: ArchiverStats = { records: 0, rows: {}, rejected: 0, batches: 0, retries: 0, partitions: 0 }
    const started = performance.now()
    let cluster: KafkaCluster | undefined
    try {
      cluster = await KafkaCluster.connect(connection.bus)
      const final = await runArchiver({
        cluster,
        bus: connection.bus,
        db: store.db,
        topics,
        routes,
        consumer: values.name as string,
        maxBatchRecords,
        lingerMs,
        signal: abort.signal,
        log: (line) => io.err(`archive: ${line}`),
        onCommit: (s) => {
          stats = s
          bar.update(() => describe(s, performance.now() - started))
        },
      })
      stats = final
    } finally {
      bar.done()
      await cluster?.close()
      await store.close()
      await connection.close()
    }
    io.out(describe(stats, performance.now() - started))
    return 0
  },
})

function describe(s: ArchiverStats, ms: number): string {
  const rows = Object.entries(s.rows)
    .map(([table, n]) => `${table} ${formatCount(n)}`)
    .join(', ')
  const rate = ms > 0 ? Math.round((s.records / ms) * 1000) : 0
  return (
    `archived ${formatCount(s.records)} records from ${s.partitions} partitions (${formatCount(rate)}/s)` +
    (rows === '' ? '' : `; ${rows}`) +
    (s.rejected > 0 ? `; ${formatCount(s.rejected)} dead-lettered` : '')
  )
}
