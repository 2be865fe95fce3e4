/**
 * DescribeLogDirs (key 35): the broker's one log directory (its data directory) with the size of
 * each partition stored there and, from v4, the disk's total and usable bytes.
 */
import fs from 'node:fs'
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readDescribeLogDirsRequest,
  writeDescribeLogDirsResponse,
  type DescribeLogDirsRequest,
  type DescribeLogDirsResponseDescribeLogDirsTopic,
} from '../../protocol/messages/index.ts'
import type { BrokerContext } from '../context.ts'
import type { Topic } from '../topics.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 35,
  name: 'DescribeLogDirs',
  // v0 is gone from Kafka 4 (KIP-896); v1 is the same request.
  minVersion: 1,
  maxVersion: 4,
  decode: readDescribeLogDirsRequest,
  encode: writeDescribeLogDirsResponse,
  handle(broker, req: DescribeLogDirsRequest) {
    const space = diskSpace(broker.logDir)
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      results: [
        {
          errorCode: KafkaError.NONE,
          logDir: broker.logDir,
          topics: describeTopics(broker, req.topics),
          totalBytes: space.totalBytes,
          usableBytes: space.usableBytes,
        },
      ],
    }
  },
})

/**
 * Every partition of every topic when `wanted` is null, else the listed ones. As Kafka does, topics
 * and partitions this broker does not have are left out rather than reported as errors (the
 * request asks where replicas live, and "nowhere here" is an answer).
 */
function describeTopics(
  broker: BrokerContext,
  wanted: DescribeLogDirsRequest['topics'],
): DescribeLogDirsResponseDescribeLogDirsTopic[] {
  const describe = (topic: Topic, indexes: Iterable<number>): DescribeLogDirsResponseDescribeLogDirsTopic => {
    const partitions = []
    for (const index of indexes) {
      const p = topic.partitions[index]
      if (p === undefined) continue
      // The segment (.log) bytes, as Kafka's Log.size: index files are not counted.
      partitions.push({
        partitionIndex: index,
        partitionSize: BigInt(p.log.sizeBytes),
        offsetLag: 0n,
        isFutureKey: false,
      })
    }
    return { name: topic.name, partitions }
  }
  if (wanted === null) return broker.topics.list().map((t) => describe(t, t.partitions.keys()))
  // A topic named twice is described once, with the union of its partitions (Kafka asks for a set).
  const byName = new Map<string, Set<number>>()
  for (const t of wanted) {
    let set = byName.get(t.topic)
    if (set === undefined) byName.set(t.topic, (set = new Set()))
    for (const index of t.partitions) set.add(index)
  }
  const out: DescribeLogDirsResponseDescribeLogDirsTopic[] = []
  for (const [name, indexes] of byName) {
    const topic = broker.topics.get(name)
    if (topic === undefined) continue
    const described = describe(topic, indexes)
    if (described.partitions.length > 0) out.push(described)
  }
  return out
}

/** The file system's size and the bytes an unprivileged writer may still use; -1 when unknown. */
function diskSpace(dir: string): { totalBytes: bigint; usableBytes: bigint } {
  try {
    const s = fs.statfsSync(dir, { bigint: true })
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize }
  } catch {
    return { totalBytes: -1n, usableBytes: -1n }
  }
}
