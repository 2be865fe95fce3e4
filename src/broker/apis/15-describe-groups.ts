/** DescribeGroups (key 15): state, protocol and members of each group. */
import {
  readDescribeGroupsRequest,
  writeDescribeGroupsResponse,
  type DescribeGroupsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  decode: readDescribeGroupsRequest,
  encode: writeDescribeGroupsResponse,
  handle(broker, req: DescribeGroupsRequest) {
    return { groups: req.groups.map((id) => broker.groups.describeGroup(id)) }
  },
})
