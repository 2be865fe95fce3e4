import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClassicGroup, parseSubscriptionTopics } from '../../../src/broker/groups/group.ts'
import type { GroupContext } from '../../../src/broker/groups/group.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { FakeClock, joinReq, subscription } from './helpers.ts'

function context(clock: FakeClock, generations: number[]): GroupContext {
  return {
    now: clock.now,
    timers: clock.timers,
    initialRebalanceDelayMs: 0,
    generationChanged: (g) => generations.push(g.generationId),
  }
}

test('a restored group continues its generations and reports each one', async () => {
  const clock = new FakeClock()
  const generations: number[] = []
  const group = new ClassicGroup('g', context(clock, generations), { generationId: 41, protocolType: 'consumer' })
  assert.equal(group.state, 'Empty')
  const j = await group.join(joinReq('g', { sessionTimeoutMs: 100 }))
  assert.equal(j.generationId, 42)
  clock.advance(100) // the only member never syncs nor heartbeats
  assert.equal(group.state, 'Empty')
  assert.deepEqual(generations, [42, 43])
})

test('a superseded parked join is answered, never left hanging', async () => {
  const clock = new FakeClock()
  const group = new ClassicGroup('g', context(clock, []))
  const a = await group.join(joinReq('g', { clientId: 'a' }))
  const b = group.join(joinReq('g', { clientId: 'b' })) // parks until a rejoins
  assert.equal((await group.join(joinReq('g', { memberId: a.memberId }))).generationId, 2)
  const bId = (await b).memberId
  // a changes its metadata: a rebalance that waits for b. a's retry supersedes its first join.
  const changed = [{ name: 'range', metadata: Buffer.from('v2') }]
  const first = group.join(joinReq('g', { memberId: a.memberId, protocols: changed }))
  const retry = group.join(joinReq('g', { memberId: a.memberId, protocols: changed }))
  assert.equal((await first).errorCode, KafkaError.REBALANCE_IN_PROGRESS)
  const rejoinB = group.join(joinReq('g', { memberId: bId }))
  assert.equal((await retry).generationId, 3)
  assert.equal((await rejoinB).generationId, 3)
})

test('parseSubscriptionTopics reads consumer-protocol subscriptions and tolerates garbage', () => {
  assert.deepEqual(parseSubscriptionTopics(subscription(['prices', 'orders'])), ['prices', 'orders'])
  assert.deepEqual(parseSubscriptionTopics(Buffer.from('not a subscription')), [])
  assert.deepEqual(parseSubscriptionTopics(Buffer.alloc(0)), [])
})
