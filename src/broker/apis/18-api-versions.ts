/**
 * ApiVersions (key 18): the version range of every registered API, straight from the registry.
 * Its response header is always v0, even for flexible versions (clients parse it before they know
 * what the broker speaks).
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import { readApiVersionsRequest, writeApiVersionsResponse } from '../../protocol/messages/index.ts'
import { Writer } from '../../protocol/writer.ts'
import type { BrokerContext } from '../context.ts'
import { defineApi } from '../registry.ts'

function apiList(broker: BrokerContext) {
  return broker.registry
    .list()
    .map((api) => ({ apiKey: api.key, minVersion: api.minVersion, maxVersion: api.maxVersion }))
}

export default defineApi({
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 4,
  decode: readApiVersionsRequest,
  encode: writeApiVersionsResponse,
  handle(broker) {
    return { errorCode: KafkaError.NONE, apiKeys: apiList(broker), throttleTimeMs: 0 }
  },
})

/** The v0 body answering an ApiVersions request of a version we do not serve. */
export function unsupportedApiVersionsResponse(broker: BrokerContext): Buffer {
  const w = Writer.create(512)
  writeApiVersionsResponse(w, 0, { errorCode: KafkaError.UNSUPPORTED_VERSION, apiKeys: apiList(broker) })
  return w.toBuffer()
}
