/** DescribeCluster (key 60): the one broker, also the controller, with Metadata's cluster id. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDescribeClusterResponse,
  readMetadataResponse,
  writeDescribeClusterRequest,
  writeMetadataRequest,
} from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect } from '../../helpers/wire.ts'

test('one broker that is also the controller, in the cluster Metadata names', async (t) => {
  // A node id other than 0 shows that the answer reads the broker's configuration.
  const broker = await startTestBroker(t, { nodeId: 3 })
  const c = await connect(t, broker)
  const md = await c.request(3, 12, writeMetadataRequest, readMetadataResponse, {
    topics: [],
    allowAutoTopicCreation: false,
  })
  for (const version of [0, 1]) {
    const res = await c.request(60, version, writeDescribeClusterRequest, readDescribeClusterResponse, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    })
    assert.deepEqual(
      [res.errorCode, res.errorMessage, res.clusterId, res.controllerId],
      [KafkaError.NONE, null, md.clusterId, 3],
    )
    assert.deepEqual(
      res.brokers.map((b) => [b.brokerId, b.host, b.port, b.rack]),
      [[3, '127.0.0.1', broker.port, null]],
    )
  }
})
