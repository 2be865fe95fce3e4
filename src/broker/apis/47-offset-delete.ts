/** OffsetDelete (key 47): removes committed offsets of partitions the group no longer consumes. */
import {
  readOffsetDeleteRequest,
  writeOffsetDeleteResponse,
  type OffsetDeleteRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 47,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,
  decode: readOffsetDeleteRequest,
  encode: writeOffsetDeleteResponse,
  handle(broker, req: OffsetDeleteRequest) {
    return broker.groups.deleteOffsets(
      req.groupId,
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    )
  },
})
