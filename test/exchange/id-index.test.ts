import assert from 'node:assert/strict'
import { test } from 'node:test'
import { IdIndex } from '../../src/exchange/id-index.ts'
import { Random } from '../../src/feeds/random.ts'

test('the id index agrees with a Map over random sets, deletes and lookups, growing and shrinking', () => {
  const rnd = new Random('id-index')
  // Ids of several kinds: dense, clustered far out, negative, past 2^32, up to the largest safe one.
  const kinds = [
    () => rnd.int(0, 2000),
    () => 5_000_000_000 + rnd.int(0, 3000) * 4096,
    () => -rnd.int(1, 2000),
    () => Number.MAX_SAFE_INTEGER - rnd.int(0, 500),
    () => rnd.int(0, 1 << 30) * 1024,
  ]
  const index = new IdIndex<number>()
  const map = new Map<number, number>()
  for (let step = 0; step < 200_000; step++) {
    // Phases of growth and of draining (deleting ids that are there), so the table both doubles and halves.
    const growing = Math.floor(step / 25_000) % 2 === 0
    const r = rnd.next()
    if (r < (growing ? 0.6 : 0.1)) {
      const id = rnd.pick(kinds)()
      index.set(id, step)
      map.set(id, step)
    } else if (r < 0.85) {
      const id = !growing && map.size > 0 && rnd.next() < 0.9 ? map.keys().next().value! : rnd.pick(kinds)()
      assert.equal(index.delete(id), map.delete(id), `delete ${id} at ${step}`)
    } else {
      const id = rnd.pick(kinds)()
      assert.equal(index.get(id), map.get(id), `get ${id} at ${step}`)
      assert.equal(index.has(id), map.has(id))
    }
    assert.equal(index.size, map.size)
    if (step % 10_000 === 0) for (const [k, v] of map) assert.equal(index.get(k), v, `${k} after ${step}`)
  }
  for (const [k, v] of map) assert.equal(index.get(k), v)
  for (const k of [...map.keys()]) assert.equal(index.delete(k), true)
  assert.equal(index.size, 0)
  assert.equal(index.get(1), undefined)
})

test('ids that share a home slot all stay reachable as their neighbours are deleted', () => {
  // Multiples of 2^32 with equal low halves hash alike in their low half; many collide in a small table.
  const index = new IdIndex<string>()
  const ids = Array.from({ length: 64 }, (_, i) => i * 2 ** 32 + 7)
  for (const id of ids) index.set(id, `v${id}`)
  for (let i = 0; i < ids.length; i += 3) index.delete(ids[i])
  ids.forEach((id, i) => assert.equal(index.get(id), i % 3 === 0 ? undefined : `v${id}`))
  index.set(ids[0], 'again')
  assert.equal(index.get(ids[0]), 'again')
  assert.equal(index.size, 64 - 22 + 1)
})
