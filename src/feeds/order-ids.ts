/** Order ids continue across runs: the next id is one past the highest already on the topic. */
import type { BusConfig } from '../bus/client.ts'
import { openReaderClient, partitionBounds, readRanges } from '../bus/reader.ts'
import { ordersTopic } from '../bus/topics/index.ts'
import { DEFAULT_START_ID } from './synthetic-orders.ts'

/** One past the highest order id on the topic (reading each partition's last records), or the default. */
export async function nextOrderId(bus: BusConfig, topic: string): Promise<number> {
  const client = openReaderClient(bus)
  try {
    const bounds = await partitionBounds(client, topic)
    let max = DEFAULT_START_ID - 1
    const ranges = bounds
      .filter((b) => b.end > b.start)
      .map((b) => ({ partition: b.partition, from: b.end - 200n > b.start ? b.end - 200n : b.start, to: b.end }))
    for await (const chunk of readRanges(client, { topic, ranges })) {
      for (const record of chunk.records) {
        const decoded = ordersTopic.decode(record.value)
        if (decoded.ok && decoded.value.id > max) max = decoded.value.id
      }
    }
    return max + 1
  } finally {
    await client.close()
  }
}
