/** `tickflow replay FILE --topic T`: CSV or JSON-lines history onto a topic; bad rows to dlq.<topic>. */
import fs from 'node:fs'
import { ensureTopics } from '../../bus/admin.ts'
import { dlqTopicOf } from '../../bus/dlq.ts'
import { TopicWriter } from '../../bus/producer.ts'
import { TOPIC_TYPES, topicType } from '../../bus/topics/index.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { formatOfFile, replayFile, type ReplayFormat, type ReplayResult } from '../../feeds/replay.ts'
import { parseMapOption, parseSpeed } from '../../feeds/replay-parse.ts'
import { defineCommand, intOption } from '../command.ts'
import { CONNECT_OPTIONS, connectFromOptions } from '../connect.ts'
import { formatCount, progress } from '../progress.ts'

const FORMATS: ReplayFormat[] = ['csv', 'tsv', 'jsonl']
// Malformed rows listed on stderr; all of them are in the dead-letter topic.
const LISTED_BAD_ROWS = 20

export default defineCommand({
  name: 'replay',
  summary: 'Replay a CSV or JSON-lines file onto a topic; malformed rows go to dlq.<topic> with their line.',
  usage: 'tickflow replay FILE --topic T [--speed max|1x|10x] [--map field=column,...]',
  options: {
    topic: { type: 'string', value: 'T', description: 'Topic to write (required)' },
    type: {
      type: 'string',
      value: 'TYPE',
      description: `Message type: ${TOPIC_TYPES.map((t) => t.name).join(', ')} or raw (default: the topic's name if it is a type, else raw)`,
    },
    speed: {
      type: 'string',
      value: 'max|Nx',
      default: 'max',
      description: 'max: as fast as possible; 1x: at the recorded pace of the timestamps; 10x: ten times faster',
    },
    map: {
      type: 'string',
      value: 'F=COL,...',
      description: 'Which column fills a field, when names and aliases do not match (e.g. ts=Date,price=Close)',
    },
    key: { type: 'string', value: 'COLUMN', description: 'raw type: the column used as record key' },
    format: {
      type: 'string',
      value: 'FMT',
      description: 'csv, tsv or jsonl (default: by file extension; .gz is read)',
    },
    partitions: {
      type: 'string',
      value: 'N',
      default: '3',
      description: 'Partitions of the topic when it has to be created',
    },
    quiet: { type: 'boolean', short: 'q', description: 'No progress line' },
    ...CONNECT_OPTIONS,
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, 'give one FILE to replay')
    const file = positionals[0]
    // Before connecting: a mistyped name must not start a broker or create topics.
    if (!fs.existsSync(file)) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `no such file: ${file}`)
    const topic = values.topic as string | undefined
    if (topic === undefined || topic === '') {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, '--topic is required')
    }
    const typeName = (values.type as string | undefined) ?? (topicType(topic) ? topic : 'raw')
    const type = typeName === 'raw' ? undefined : topicType(typeName)
    if (typeName !== 'raw' && type === undefined) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `--type must be one of ${TOPIC_TYPES.map((t) => t.name).join(', ')}, raw`,
      )
    }
    const format = (values.format as ReplayFormat | undefined) ?? formatOfFile(file)
    if (!FORMATS.includes(format)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--format must be one of ${FORMATS.join(', ')}`)
    }
    const speed = parseSpeed(values.speed as string)
    const map = values.map === undefined ? undefined : parseMapOption(values.map as string)
    const partitions = intOption('partitions', values.partitions, 1)!

    const connection = await connectFromOptions(values, io, 'tickflow-replay')
    const abort = new AbortController()
    void io.stopSignal.then(() => abort.abort())
    const bar = progress(io, values.quiet === true)
    const badLines: string[] = []
    let writer: TopicWriter | undefined
    let dlq: TopicWriter | undefined
    let result: ReplayResult
    try {
      await ensureTopics(connection.bus, { [topic]: partitions, [dlqTopicOf(topic)]: 1 })
      writer = new TopicWriter(connection.bus, { topic })
      dlq = new TopicWriter(connection.bus, { topic: dlqTopicOf(topic), chunkSize: 500 })
      result = await replayFile({
        file,
        format,
        topic,
        type,
        map,
        keyColumn: values.key as string | undefined,
        speed,
        writer,
        dlq,
        signal: abort.signal,
        onBadRow: (line, reason) => {
          if (badLines.length < LISTED_BAD_ROWS) badLines.push(`  line ${line}: ${reason}`)
        },
        onProgress: (rows, bad) =>
          bar.update(() => `replay: ${formatCount(rows)} rows written, ${formatCount(bad)} malformed`),
      })
    } finally {
      bar.done()
      await writer?.close().catch(() => {})
      await dlq?.close().catch(() => {})
      await connection.close()
    }
    io.out(
      `${result.interrupted ? 'interrupted: ' : ''}replayed ${formatCount(result.written)} rows of ${file} to ${topic} ` +
        `in ${result.seconds.toFixed(2)} s` +
        (result.bad > 0 ? `; ${formatCount(result.bad)} malformed rows sent to ${dlqTopicOf(topic)}:` : ''),
    )
    for (const line of badLines) io.out(line)
    if (result.bad > badLines.length)
      io.out(`  ... ${formatCount(result.bad - badLines.length)} more in ${dlqTopicOf(topic)}`)
    return result.interrupted ? 130 : 0
  },
})
