/**
 * `tickflow topics` end to end: topics made and filled with KafkaJS on a tickflow broker are listed
 * by the command (a child process) with their partitions, offsets, message counts and sizes.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import kafkajs from 'kafkajs'
import { createTopic } from '../../helpers/admin.ts'
import { startTestBroker, tempDir } from '../../helpers/broker.ts'
import { closedAddress, cliEnv, lines, produceWithKafkajs, runCli, type CliResult } from '../../helpers/cli.ts'

/** Runs `tickflow topics ...` against `address` (by --brokers; no local broker); it must succeed. */
async function topics(t: TestContext, address: string, args: string[] = []): Promise<CliResult> {
  const dir = tempDir(t)
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dir })
  const r = await runCli(['topics', ...args, '--brokers', address], { env, cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(lines(r.stderr), [`tickflow: using the Kafka brokers ${address} (--brokers)`])
  return r
}

/** A broker with `alpha` (2 partitions: 3 + 2 records, the first one deleted), `beta` (4: one record in 3) and `empty`. */
async function filledBroker(t: TestContext): Promise<string> {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'alpha', 2)
  await createTopic(broker, 'beta', 4)
  await createTopic(broker, 'empty', 1)
  const v = (i: number) => `{"ts":"2024-03-01 09:30:0${i}.000","symbol":"AAPL","price":10${i}.00}`
  await produceWithKafkajs(broker.address, 'alpha', [
    { key: 'AAPL', value: v(0), partition: 0 },
    { key: 'AAPL', value: v(1), partition: 0 },
    { key: 'AAPL', value: v(2), partition: 0 },
    { key: 'MSFT', value: v(3), partition: 1 },
    { key: 'MSFT', value: v(4), partition: 1 },
  ])
  await produceWithKafkajs(broker.address, 'beta', [{ key: null, value: 'x'.repeat(1000), partition: 3 }])
  // Delete the first record of alpha/0: its log starts at offset 1.
  const admin = new kafkajs.Kafka({
    brokers: [broker.address],
    clientId: 'topics-test',
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin()
  await admin.connect()
  try {
    await admin.fetchTopicMetadata({ topics: ['alpha'] }) // deleteTopicRecords needs it loaded
    await admin.deleteTopicRecords({ topic: 'alpha', partitions: [{ partition: 0, offset: '1' }] })
  } finally {
    await admin.disconnect()
  }
  return broker.address
}

/** The table's rows: name, partitions, messages, size and offsets columns. */
function rows(stdout: string): string[][] {
  const [header, ...rest] = lines(stdout)
  assert.match(header, /^topic\s+partitions\s+messages\s+size\s+offsets \(start-end\)$/)
  return rest.map((line) => {
    const m = /^(\s*\S+)\s+(leader \d+|\d+)\s+([\d,]+)\s+(\d+(?:\.\d+)? [KMG]?i?B|-)(?:\s+(.*))?$/.exec(line)
    assert.ok(m, `a table row: ${JSON.stringify(line)}`)
    return [m[1], m[2], m[3], m[4], m[5] ?? '']
  })
}

test('topics lists every topic with its partitions, message counts, sizes and offsets', async (t) => {
  const address = await filledBroker(t)
  const table = rows((await topics(t, address)).stdout)
  assert.deepEqual(
    table.map(([name, partitions, messages, , offsets]) => [name, partitions, messages, offsets]),
    [
      ['alpha', '2', '4', '1-3 0-2'],
      ['beta', '4', '1', '0-0 0-0 0-0 0-1'],
      ['empty', '1', '0', '0-0'],
    ],
  )
  assert.notEqual(table[0][3], '0 B', 'alpha has bytes')
  assert.match(table[1][3], /^\d+(\.\d+)? KiB$/, 'beta holds a 1000-byte value')
  assert.equal(table[2][3], '0 B')

  // Named topics only.
  assert.deepEqual(
    rows((await topics(t, address, ['beta'])).stdout).map((r) => r[0]),
    ['beta'],
  )
})

test('topics -p adds one line per partition', async (t) => {
  const address = await filledBroker(t)
  const table = rows((await topics(t, address, ['-p'])).stdout)
  assert.deepEqual(
    table.map(([name, second, messages, , offsets]) => [name, second, messages, offsets]),
    [
      ['alpha', '2', '4', '1-3 0-2'],
      ['  alpha/0', 'leader 0', '2', '1-3'],
      ['  alpha/1', 'leader 0', '2', '0-2'],
      ['beta', '4', '1', '0-0 0-0 0-0 0-1'],
      ['  beta/0', 'leader 0', '0', '0-0'],
      ['  beta/1', 'leader 0', '0', '0-0'],
      ['  beta/2', 'leader 0', '0', '0-0'],
      ['  beta/3', 'leader 0', '1', '0-1'],
      ['empty', '1', '0', '0-0'],
      ['  empty/0', 'leader 0', '0', '0-0'],
    ],
  )
})

interface JsonTopic {
  name: string
  messages: number
  bytes: number
  partitions: {
    partition: number
    leader: number
    start: number
    end: number
    messages: number
    bytes: number | null
  }[]
}

test('topics --json has messages and bytes per topic and per partition', async (t) => {
  const address = await filledBroker(t)
  const r = await topics(t, address, ['--json'])
  assert.equal(lines(r.stdout).length, 1, 'one JSON document')
  const listed = JSON.parse(r.stdout) as JsonTopic[]
  assert.deepEqual(
    listed.map((x) => x.name),
    ['alpha', 'beta', 'empty'],
  )
  const [alpha, beta, empty] = listed
  assert.equal(alpha.messages, 4)
  assert.deepEqual(
    alpha.partitions.map(({ partition, leader, start, end, messages }) => ({
      partition,
      leader,
      start,
      end,
      messages,
    })),
    [
      { partition: 0, leader: 0, start: 1, end: 3, messages: 2 },
      { partition: 1, leader: 0, start: 0, end: 2, messages: 2 },
    ],
  )
  for (const p of alpha.partitions) assert.ok((p.bytes ?? 0) > 0, `alpha/${p.partition} has bytes`)
  assert.equal(alpha.bytes, (alpha.partitions[0].bytes ?? 0) + (alpha.partitions[1].bytes ?? 0))
  assert.equal(beta.messages, 1)
  assert.deepEqual(
    beta.partitions.map((p) => p.messages),
    [0, 0, 0, 1],
  )
  assert.ok((beta.partitions[3].bytes ?? 0) > 1000, 'the partition holds the 1000-byte value')
  assert.equal(beta.bytes, beta.partitions[3].bytes)
  assert.deepEqual({ messages: empty.messages, bytes: empty.bytes }, { messages: 0, bytes: 0 })
})

test('topics on a cluster without topics says so', async (t) => {
  const broker = await startTestBroker(t)
  assert.equal((await topics(t, broker.address)).stdout, 'no topics\n')
  assert.equal((await topics(t, broker.address, ['--json'])).stdout, '[]\n')
})
