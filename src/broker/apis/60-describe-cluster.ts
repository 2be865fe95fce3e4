/** DescribeCluster (key 60): one broker, which is also the controller. */
import { KafkaError } from '../../protocol/error-codes.ts'
import { readDescribeClusterRequest, writeDescribeClusterResponse } from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 60,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 1,
  decode: readDescribeClusterRequest,
  encode: writeDescribeClusterResponse,
  handle(broker) {
    const { host, port } = broker.advertised
    return {
      errorCode: KafkaError.NONE,
      errorMessage: null,
      clusterId: broker.clusterId,
      controllerId: broker.nodeId,
      brokers: [{ brokerId: broker.nodeId, host, port, rack: null }],
    }
  },
})
