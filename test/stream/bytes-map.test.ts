import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BytesMap, hashBytes } from '../../src/stream/bytes-map.ts'
import { Random } from '../../src/feeds/random.ts'

test('finds values by a slice of any buffer, agrees with a Map over many random keys', () => {
  const rng = new Random(7)
  const random = (): number => rng.next()
  const map = new BytesMap<number>(4)
  const reference = new Map<string, number>()
  const keyOf = (): string => {
    const n = Math.floor(random() * 6)
    let s = ''
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(random() * 4))
    return s
  }
  for (let i = 0; i < 20_000; i++) {
    const k = keyOf()
    const bytes = Buffer.from(k, 'latin1')
    if (random() < 0.5) {
      map.set(Buffer.from(bytes), i)
      reference.set(k, i)
    }
    // Looked up in the middle of a larger buffer.
    const framed = Buffer.concat([Buffer.from('xy'), bytes, Buffer.from('z')])
    assert.equal(map.get(framed, 2, 2 + bytes.length), reference.get(k), `key ${JSON.stringify(k)}`)
  }
  assert.equal(map.size, reference.size)
  assert.deepEqual(
    map.keys().map((b) => b.toString('latin1')),
    [...reference.keys()],
    'insertion order',
  )
  assert.deepEqual(map.values(), [...reference.values()])
})

test('keys that share a hash are told apart by their bytes', () => {
  // Search for two short keys with the same FNV-1a hash modulo a small table: they must probe.
  const map = new BytesMap<string>(2)
  const seen = new Map<number, string>()
  let pair: [string, string] | undefined
  for (let i = 0; pair === undefined; i++) {
    const k = `k${i}`
    const h = hashBytes(Buffer.from(k), 0, k.length) & 15
    const other = seen.get(h)
    if (other !== undefined) pair = [other, k]
    else seen.set(h, k)
  }
  map.set(Buffer.from(pair[0]), pair[0])
  map.set(Buffer.from(pair[1]), pair[1])
  assert.equal(map.get(Buffer.from(pair[0]), 0, pair[0].length), pair[0])
  assert.equal(map.get(Buffer.from(pair[1]), 0, pair[1].length), pair[1])
  assert.equal(map.get(Buffer.from('nope'), 0, 4), undefined)
  map.set(Buffer.from(pair[1]), 'replaced')
  assert.equal(map.get(Buffer.from(pair[1]), 0, pair[1].length), 'replaced')
  assert.equal(map.size, 2)
})
