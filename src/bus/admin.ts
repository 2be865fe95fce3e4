/** Topic administration over the Kafka protocol: create when missing, describe offsets and sizes. */
import { Admin } from '@platformatic/kafka'
import { asUnknownTopic, type BusConfig } from './client.ts'

/** Opens an admin client; close it when done. */
export function openAdmin(bus: BusConfig): Admin {
  return new Admin({ clientId: bus.clientId, bootstrapBrokers: bus.bootstrapBrokers, retries: 3 })
}

/**
 * Creates `topic` with `partitions` partitions (and topic `configs`) unless it exists; returns
 * whether it was created.
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<boolean> {
  const existing = await admin.listTopics({ includeInternals: true })
  if (existing.includes(topic)) return false
  try {
    await admin.createTopics({
      topics: [topic],
      partitions,
      replicas: -1,
      configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
    })
    return true
  } catch (err) {
    // Another client may have created it in between (TOPIC_ALREADY_EXISTS): that is success.
    if ((await admin.listTopics({ includeInternals: true })).includes(topic)) return false
    throw err
  }
}

/** Creates the missing topics of `topics` (name → partitions) with a short-lived admin client. */
export async function ensureTopics(bus: BusConfig, topics: Record<string, number>): Promise<void> {
  const admin = openAdmin(bus)
  try {
    for (const [name, partitions] of Object.entries(topics)) await ensureTopic(admin, name, partitions)
  } finally {
    await admin.close()
  }
}

/** One partition of {@link TopicDescription}. */
export interface PartitionDescription {
  partition: number
  leader: number
  /** The log start offset. */
  start: bigint
  /** The high watermark: the offset the next record will get. */
  end: bigint
  /** Bytes of the partition's log on its leader; undefined when the cluster does not tell. */
  bytes?: number
}

/** A topic with its partitions' offsets and sizes. */
export interface TopicDescription {
  name: string
  partitions: PartitionDescription[]
}

/** Describes `topics` (default: every non-internal topic), sorted by name. */
export async function describeTopics(admin: Admin, topics?: string[]): Promise<TopicDescription[]> {
  const names = (topics ?? (await admin.listTopics())).slice().sort()
  if (names.length === 0) return []
  let metadata
  try {
    metadata = await admin.metadata({ topics: names, autocreateTopics: false })
  } catch (err) {
    throw asUnknownTopic(err)
  }
  const result: TopicDescription[] = []
  const requests = names.map((name) => {
    const count = metadata.topics.get(name)?.partitionsCount ?? 0
    return { name, partitionIndexes: Array.from({ length: count }, (_, i) => i) }
  })
  const offsets = async (timestamp: bigint): Promise<Map<string, bigint[]>> => {
    const listed = await admin.listOffsets({
      topics: requests.map((r) => ({
        name: r.name,
        partitions: r.partitionIndexes.map((partitionIndex) => ({ partitionIndex, timestamp })),
      })),
    })
    const map = new Map<string, bigint[]>()
    for (const t of listed) {
      const arr: bigint[] = []
      for (const p of t.partitions) arr[p.partitionIndex] = p.offset
      map.set(t.name, arr)
    }
    return map
  }
  const [starts, ends] = await Promise.all([offsets(-2n), offsets(-1n)])
  const sizes = await logDirSizes(admin, requests)
  for (const name of names) {
    const topicMeta = metadata.topics.get(name)
    if (topicMeta === undefined) continue
    result.push({
      name,
      partitions: topicMeta.partitions.map((p, partition) => ({
        partition,
        leader: p.leader,
        start: starts.get(name)?.[partition] ?? 0n,
        end: ends.get(name)?.[partition] ?? 0n,
        bytes: sizes.get(`${name}/${partition}`),
      })),
    })
  }
  return result
}

/** `topic/partition` → bytes on the leader; empty when DescribeLogDirs is not available. */
async function logDirSizes(
  admin: Admin,
  requests: { name: string; partitionIndexes: number[] }[],
): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  const topics = requests.filter((r) => r.partitionIndexes.length > 0)
  if (topics.length === 0) return sizes
  try {
    const described = await admin.describeLogDirs({
      topics: topics.map((r) => ({ name: r.name, partitions: r.partitionIndexes })),
    })
    for (const broker of described) {
      for (const dir of broker.results) {
        for (const t of dir.topics) {
          for (const p of t.partitions) {
            // With replication every replica reports; the largest is the leader's or close to it.
            const key = `${t.name}/${p.partitionIndex}`
            sizes.set(key, Math.max(sizes.get(key) ?? 0, Number(p.partitionSize)))
          }
        }
      }
    }
  } catch {
    // Sizes are informative only: clusters that deny DescribeLogDirs still list offsets.
  }
  return sizes
}
