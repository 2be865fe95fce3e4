/** `tickflow topics`: every topic with its partitions, offsets, message counts and sizes. */
import { describeTopics, openAdmin, type TopicDescription } from '../../bus/admin.ts'
import { defineCommand } from '../command.ts'
import { CONNECT_OPTIONS, connectFromOptions } from '../connect.ts'
import { formatBytes, formatCount } from '../progress.ts'

export default defineCommand({
  name: 'topics',
  summary: 'List topics: partitions, offsets, message counts and sizes.',
  usage: 'tickflow topics [TOPIC...] [--partitions] [--json]',
  options: {
    partitions: { type: 'boolean', short: 'p', description: 'One line per partition' },
    json: { type: 'boolean', description: 'Print JSON' },
    ...CONNECT_OPTIONS,
  },
  async run(values, positionals, io) {
    const connection = await connectFromOptions(values, io, 'tickflow-topics')
    let topics: TopicDescription[]
    try {
      const admin = openAdmin(connection.bus)
      try {
        topics = await describeTopics(admin, positionals.length > 0 ? positionals : undefined)
      } finally {
        await admin.close()
      }
    } finally {
      await connection.close()
    }
    if (values.json === true) {
      io.out(
        JSON.stringify(
          topics.map((t) => ({
            name: t.name,
            messages: Number(t.partitions.reduce((a, p) => a + (p.end - p.start), 0n)),
            bytes: t.partitions.reduce((a, p) => a + (p.bytes ?? 0), 0),
            partitions: t.partitions.map((p) => ({
              partition: p.partition,
              leader: p.leader,
              start: Number(p.start),
              end: Number(p.end),
              messages: Number(p.end - p.start),
              bytes: p.bytes ?? null,
            })),
          })),
        ),
      )
      return 0
    }
    if (topics.length === 0) {
      io.out('no topics')
      return 0
    }
    // Messages = end − start offsets: exact for plain topics; transaction markers also take offsets.
    const header = ['topic', 'partitions', 'messages', 'size', 'offsets (start-end)']
    const rows: string[][] = []
    for (const t of topics) {
      const messages = t.partitions.reduce((a, p) => a + (p.end - p.start), 0n)
      const bytes = t.partitions.some((p) => p.bytes !== undefined)
        ? formatBytes(t.partitions.reduce((a, p) => a + (p.bytes ?? 0), 0))
        : '-'
      const span = t.partitions.map((p) => `${p.start}-${p.end}`)
      rows.push([
        t.name,
        String(t.partitions.length),
        formatCount(messages),
        bytes,
        span.length > 4 ? '' : span.join(' '),
      ])
      if (values.partitions === true) {
        for (const p of t.partitions) {
          rows.push([
            `  ${t.name}/${p.partition}`,
            `leader ${p.leader}`,
            formatCount(p.end - p.start),
            p.bytes === undefined ? '-' : formatBytes(p.bytes),
            `${p.start}-${p.end}`,
          ])
        }
      }
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
    const line = (cells: string[]): string =>
      cells
        .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd()
    io.out(line(header))
    for (const r of rows) io.out(line(r))
    return 0
  },
})
