/** AlterConfigs (key 33): replaces a topic's config overrides with the given set. */
import {
  readAlterConfigsRequest,
  writeAlterConfigsResponse,
  type AlterConfigsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { alterTopicConfigs } from './alter-topic-configs.ts'

export default defineApi({
  key: 33,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,
  decode: readAlterConfigsRequest,
  encode: writeAlterConfigsResponse,
  handle(broker, req: AlterConfigsRequest) {
    return {
      responses: req.resources.map((r) =>
        alterTopicConfigs(
          broker,
          r,
          Object.fromEntries(r.configs.map((c) => [c.name, c.value])),
          false,
          req.validateOnly,
        ),
      ),
    }
  },
})
