/** FindCoordinator (key 10): this broker coordinates every group and transactional id. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readFindCoordinatorRequest,
  writeFindCoordinatorResponse,
  type FindCoordinatorRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 6,
  decode: readFindCoordinatorRequest,
  encode: writeFindCoordinatorResponse,
  handle(broker, req: FindCoordinatorRequest, info) {
    const { host, port } = broker.advertised
    const nodeId = broker.nodeId
    if (info.apiVersion < 4) {
      return { errorCode: KafkaError.NONE, errorMessage: null, nodeId, host, port }
    }
    return {
      coordinators: req.coordinatorKeys.map((key) => ({
        key,
        nodeId,
        host,
        port,
        errorCode: KafkaError.NONE,
        errorMessage: null,
      })),
    }
  },
})
