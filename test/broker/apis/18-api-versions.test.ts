/**
 * ApiVersions (key 18): the advertised ranges are exactly the registry's, the response header is
 * always v0, and an unknown version is answered (v0, UNSUPPORTED_VERSION) rather than closed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { registerApis } from '../../../src/broker/apis/index.ts'
import { ApiRegistry } from '../../../src/broker/registry.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readApiVersionsResponse,
  readMetadataResponse,
  writeApiVersionsRequest,
  writeMetadataRequest,
} from '../../../src/protocol/messages/index.ts'
import { Reader } from '../../../src/protocol/reader.ts'
import { encodeRequestFrame } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect } from '../../helpers/wire.ts'

const expected = registerApis(new ApiRegistry())
  .list()
  .map((api) => ({ apiKey: api.key, minVersion: api.minVersion, maxVersion: api.maxVersion }))

const body = { clientSoftwareName: 'tickflow-test', clientSoftwareVersion: '1.0.0' }

test('v0 and v3 (and every version between) list exactly the registry', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (let version = 0; version <= 4; version++) {
    const res = await c.request(18, version, writeApiVersionsRequest, readApiVersionsResponse, body)
    assert.equal(res.errorCode, KafkaError.NONE)
    assert.deepEqual(res.apiKeys, expected)
    if (version >= 1) assert.equal(res.throttleTimeMs, 0)
  }
  assert.ok(expected.some((x) => x.apiKey === 18 && x.minVersion === 0))
})

test('the response header has no tagged-field byte, even for flexible versions', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const version of [3, 4]) {
    const payload = await c.requestRaw(18, version, writeApiVersionsRequest, body)
    // correlation id, then the body straight away: error code int16 0, compact array length.
    const r = new Reader(payload)
    r.readInt32()
    assert.equal(payload.readInt16BE(4), KafkaError.NONE)
    assert.equal(payload[6], expected.length + 1)
    const res = readApiVersionsResponse(r, version)
    assert.equal(r.remaining, 0)
    assert.deepEqual(res.apiKeys, expected)
  }
})

test('an unknown higher version gets a v0 body with UNSUPPORTED_VERSION and the key list; the connection stays open', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const version of [5, 127, 32767]) {
    const correlationId = c.takeCorrelationId()
    // Encoded as v3 (what a newer client would send first), labelled with the unknown version.
    const frame = encodeRequestFrame(18, 3, correlationId, writeApiVersionsRequest, body)
    frame.writeInt16BE(version, 6)
    const payload = await c.sendFrame(frame, correlationId)
    const r = new Reader(payload)
    assert.equal(r.readInt32(), correlationId)
    const res = readApiVersionsResponse(r, 0)
    assert.equal(r.remaining, 0)
    assert.equal(res.errorCode, KafkaError.UNSUPPORTED_VERSION)
    assert.deepEqual(res.apiKeys, expected)
  }
  // Still usable.
  const md = await c.request(3, 12, writeMetadataRequest, readMetadataResponse, { topics: [] })
  assert.equal(md.brokers.length, 1)
})
