/**
 * Reading what a read_committed consumer may see, with kcat (librdkafka) as an independent
 * client: `-e` ends each partition at its last stable offset, so transactional topics — whose last
 * offset is a commit marker no consumer ever receives — are read to their end without hanging.
 * `-J` gives each record as JSON with its key, headers and timestamp.
 */
import { execFile } from 'node:child_process'
import { topicOffsets } from './cli.ts'

/** One committed record as kcat saw it. */
export interface CommittedRecord {
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: Record<string, string>
}

interface KcatEnvelope {
  partition: number
  offset: number
  ts: number
  key: string | null
  payload: string | null
  headers?: string[]
}

const env = { ...process.env }
delete env.KCAT_CONFIG
delete env.KAFKACAT_CONFIG

/** Every committed record of one partition, in offset order. */
export function readCommittedPartition(address: string, topic: string, partition: number): Promise<CommittedRecord[]> {
  const args = ['-b', address, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-J', '-q']
  args.push('-X', 'isolation.level=read_committed', '-X', 'client.id=committed-reader')
  return new Promise((resolve, reject) => {
    execFile('kcat', args, { env, maxBuffer: 1 << 30 }, (err, out, errOut) => {
      if (err) {
        reject(new Error(`kcat ${args.join(' ')} failed: ${errOut}`, { cause: err }))
        return
      }
      const records = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          const e = JSON.parse(l) as KcatEnvelope
          const headers: Record<string, string> = {}
          for (let i = 0; i + 1 < (e.headers?.length ?? 0); i += 2) headers[e.headers![i]] = e.headers![i + 1]
          return { partition: e.partition, offset: e.offset, timestamp: e.ts, key: e.key, value: e.payload, headers }
        })
      resolve(records)
    })
  })
}

/** Every committed record of `topic`, sorted by partition and offset. */
export async function readCommitted(address: string, topic: string): Promise<CommittedRecord[]> {
  const partitions = (await topicOffsets(address, topic)).map((o) => o.partition)
  const all = await Promise.all(partitions.map((p) => readCommittedPartition(address, topic, p)))
  return all.flat()
}
