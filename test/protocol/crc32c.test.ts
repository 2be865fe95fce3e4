import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { crc32c, crc32cJs } from '../../src/protocol/crc32c.ts'

test('CRC-32C check value of "123456789" is 0xe3069283', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283)
  assert.equal(crc32cJs(Buffer.from('123456789')), 0xe3069283)
})

test('known vectors (RFC 3720 iSCSI examples)', () => {
  assert.equal(crc32cJs(Buffer.alloc(32, 0)), 0x8a9136aa)
  assert.equal(crc32cJs(Buffer.alloc(32, 0xff)), 0x62a8ab43)
  const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
  assert.equal(crc32cJs(inc), 0x46dd794e)
})

test('the JS and the native implementation agree on every length and sub-range', () => {
  const data = randomBytes(1000)
  for (let n = 0; n <= 70; n++) assert.equal(crc32cJs(data, 0, n), crc32c(data.subarray(0, n)))
  for (const [s, e] of [
    [3, 997],
    [21, 500],
    [999, 1000],
  ]) {
    assert.equal(crc32cJs(data, s, e), crc32c(data, s, e))
  }
})
