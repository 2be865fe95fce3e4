/**
 * The API registry: duplicate keys refused, every advertised range valid for Apache Kafka 4
 * (inside the generated validVersions, above the deprecated ones), and one file per key.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { registerApis } from '../../src/broker/apis/index.ts'
import { ApiRegistry, defineApi, type AnyApi } from '../../src/broker/registry.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { apiKeys } from '../../src/protocol/messages/index.ts'

const APIS_URL = new URL('../../src/broker/apis/', import.meta.url)
const APIS_DIR = fileURLToPath(APIS_URL)

const fake = (key: number, name: string, minVersion = 0, maxVersion = 0): AnyApi => ({
  key,
  name,
  minVersion,
  maxVersion,
  decode: () => ({}),
  encode: () => undefined,
  handle: () => ({}),
})

test('a second registration of a key is refused', () => {
  const registry = new ApiRegistry().register(fake(0, 'First'))
  assert.throws(() => registry.register(fake(0, 'Second')), { code: ErrorCodes.DUPLICATE_REGISTRATION })
  assert.equal(registry.get(0)?.name, 'First')
  // The real set registers cleanly once, and not twice.
  const real = registerApis(new ApiRegistry())
  assert.throws(() => registerApis(real), { code: ErrorCodes.DUPLICATE_REGISTRATION })
})

test('defineApi refuses impossible version ranges', () => {
  assert.throws(() => defineApi(fake(1, 'Negative', -1, 2)), { code: ErrorCodes.INVALID_CONFIG })
  assert.throws(() => defineApi(fake(1, 'Inverted', 3, 2)), { code: ErrorCodes.INVALID_CONFIG })
  assert.equal(defineApi(fake(1, 'Single', 2, 2)).maxVersion, 2)
})

test('list() is sorted by key; get() of an unregistered key is undefined', () => {
  const registry = new ApiRegistry().register(fake(9, 'Nine')).register(fake(3, 'Three'))
  assert.deepEqual(
    registry.list().map((a) => a.key),
    [3, 9],
  )
  assert.equal(registry.get(4), undefined)
})

test('every registered range lies inside Kafka’s valid versions and above the deprecated ones (KIP-896)', () => {
  const apis = registerApis(new ApiRegistry()).list()
  assert.ok(apis.length > 0)
  for (const api of apis) {
    const info = apiKeys[api.key]
    assert.ok(info !== undefined, `key ${api.key} has generated codecs`)
    assert.equal(api.name, info.name)
    const [low, high] = info.validVersions
    assert.ok(api.minVersion >= low && api.maxVersion <= high, `${api.name} ${api.minVersion}-${api.maxVersion}`)
    assert.ok(api.minVersion <= api.maxVersion)
    // Apache Kafka 4 refuses deprecated versions: advertising one would let clients use it here only.
    // Produce is the exception Kafka 4 makes too (KAFKA-18659): v0-2 are advertised, so that
    // librdkafka < 2.10 compresses, and each partition is refused with UNSUPPORTED_VERSION.
    if (info.deprecatedUpTo !== null && api.key !== 0) {
      assert.ok(api.minVersion > info.deprecatedUpTo, `${api.name} serves deprecated v${api.minVersion}`)
    }
  }
})

test('one file per registered API key in src/broker/apis, named by its key and exporting it', async () => {
  const apis = registerApis(new ApiRegistry()).list()
  const files = fs.readdirSync(APIS_DIR).filter((f) => /^\d+-.+\.ts$/.test(f))
  const byKey = new Map(files.map((f) => [Number(f.split('-')[0]), f]))
  assert.equal(byKey.size, files.length, 'no key has two files')
  assert.deepEqual(
    [...byKey.keys()].sort((a, b) => a - b),
    apis.map((a) => a.key),
  )
  for (const api of apis) {
    const file = byKey.get(api.key) as string
    const kebab = api.name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()
    assert.equal(file, `${String(api.key).padStart(2, '0')}-${kebab}.ts`)
    const mod = (await import(new URL(file, APIS_URL).href)) as { default: AnyApi }
    assert.equal(mod.default, api, `${file} default-exports the registered definition`)
  }
})
