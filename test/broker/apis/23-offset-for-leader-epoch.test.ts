/** OffsetForLeaderEpoch (key 23): every partition has always been led at epoch 0 by this broker. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readOffsetForLeaderEpochResponse,
  writeOffsetForLeaderEpochRequest,
} from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { batchOf, connect, mustCreateTopic, produce } from '../../helpers/wire.ts'

test('epoch 0 (and later) ends at the high watermark; unknown partitions and leader epochs are errors', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'epochs', 2)
  await produce(c, 'epochs', 0, batchOf(['a', 'b', 'c']))
  for (const version of [2, 4]) {
    const res = await c.request(23, version, writeOffsetForLeaderEpochRequest, readOffsetForLeaderEpochResponse, {
      replicaId: -1,
      topics: [
        {
          topic: 'epochs',
          partitions: [
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
            // A later epoch than any we had also ends at the log end (nothing diverged).
            { partition: 1, currentLeaderEpoch: 0, leaderEpoch: 3 },
            // The client believes in a leader epoch this broker never had.
            { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 },
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: -1 },
            { partition: 2, currentLeaderEpoch: -1, leaderEpoch: 0 },
          ],
        },
        { topic: 'missing', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
      ],
    })
    assert.deepEqual(
      res.topics.map((t) => t.partitions.map((p) => [p.partition, p.errorCode, p.leaderEpoch, p.endOffset])),
      [
        [
          [0, KafkaError.NONE, 0, 3n],
          [1, KafkaError.NONE, 0, 0n],
          [0, KafkaError.UNKNOWN_LEADER_EPOCH, -1, -1n],
          [0, KafkaError.NONE, -1, -1n],
          [2, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n],
        ],
        [[0, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n]],
      ],
    )
  }
})
