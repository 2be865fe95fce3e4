/**
 * Which broker a client command uses (src/cli/connect.ts): --brokers, TICKFLOW_BROKERS, a broker on
 * TICKFLOW_LOCAL_BROKER, the broker of the process holding the data dir, else one started in
 * process. Every test sets TICKFLOW_LOCAL_BROKER, so a broker on the real 9092 never interferes.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { readBrokerLock } from '../../src/broker/index.ts'
import { connect } from '../../src/cli/connect.ts'
import { startTestBroker, tempDir } from '../helpers/broker.ts'
import { closedAddress, cliEnv, lines, readTopic, runCli, startCli, topicSize, type CliResult } from '../helpers/cli.ts'

const EMBEDDED =
  /^tickflow: no broker on 127\.0\.0\.1:\d+: started an embedded broker on data dir (.+) for this command$/

function assertOk(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} exits 0: ${r.stderr}`)
}

/** The one stderr line that says which broker was used. */
function brokerLine(r: CliResult): string {
  const err = lines(r.stderr)
  assert.equal(err.length, 1, `one line on stderr: ${r.stderr}`)
  return err[0]
}

function statsOf(r: CliResult): { count: number; symbols: Record<string, { count: number }>; invalid: number } {
  assertOk(r, 'stats')
  return JSON.parse(r.stdout) as { count: number; symbols: Record<string, { count: number }>; invalid: number }
}

function producedCount(stdout: string): number {
  const m = /produced ([\d,]+) prices to /.exec(stdout)
  assert.ok(m, stdout)
  return Number(m[1].replaceAll(',', ''))
}

test('connect(): explicit brokers, then the local broker, then the data dir lock, then in process', async (t) => {
  const said: string[] = []
  const say = (l: string): void => void said.push(l)
  const closed = await closedAddress()

  // --brokers beats TICKFLOW_BROKERS; TICKFLOW_BROKERS beats a local broker; an empty one is unset.
  const flag = await connect({
    clientId: 'c',
    brokers: 'a.example:1,b.example',
    env: { TICKFLOW_BROKERS: 'env.example:2' },
    say,
  })
  assert.equal(flag.kind, 'external')
  assert.deepEqual(flag.bus, { bootstrapBrokers: ['a.example:1', 'b.example:9092'], clientId: 'c' })
  assert.equal(said.pop(), 'tickflow: using the Kafka brokers a.example:1,b.example:9092 (--brokers)')
  const local = await startTestBroker(t)
  const fromEnv = await connect({
    clientId: 'c',
    env: { TICKFLOW_BROKERS: 'env.example:2', TICKFLOW_LOCAL_BROKER: local.address },
    say,
  })
  assert.deepEqual(fromEnv.bus.bootstrapBrokers, ['env.example:2'])
  assert.equal(said.pop(), 'tickflow: using the Kafka brokers env.example:2 (TICKFLOW_BROKERS)')
  await assert.rejects(connect({ clientId: 'c', brokers: '::::', env: {} }), /not a broker address/)

  // A broker listening on TICKFLOW_LOCAL_BROKER beats the one holding the data dir.
  const dataDir = tempDir(t)
  const holder = await startTestBroker(t, { dataDir })
  const viaLocal = await connect({
    clientId: 'c',
    env: { TICKFLOW_BROKERS: '', TICKFLOW_LOCAL_BROKER: local.address, TICKFLOW_DATA_DIR: dataDir },
    say,
  })
  assert.equal(viaLocal.kind, 'local')
  assert.deepEqual(viaLocal.bus.bootstrapBrokers, [local.address])
  assert.equal(said.pop(), `tickflow: using the broker listening on ${local.address}`)

  // Nothing on the local address: the broker named by the data dir's lock.
  const viaLock = await connect({ clientId: 'c', env: { TICKFLOW_LOCAL_BROKER: closed, TICKFLOW_DATA_DIR: dataDir } })
  assert.equal(viaLock.kind, 'shared')
  assert.deepEqual(viaLock.bus.bootstrapBrokers, [holder.address])
  assert.match(viaLock.description, new RegExp(`^using the broker of process ${process.pid} on ${holder.address} `))
  await holder.close()

  // Nobody holds the data dir: a broker in process, holding it until closed. --data-dir beats the env.
  const own = tempDir(t)
  const inProcess = await connect({
    clientId: 'c',
    dataDir: own,
    env: { TICKFLOW_LOCAL_BROKER: closed, TICKFLOW_DATA_DIR: dataDir },
    say,
  })
  try {
    assert.equal(inProcess.kind, 'in-process')
    assert.match(said.pop()!, EMBEDDED)
    const lock = readBrokerLock(own)
    assert.equal(lock?.pid, process.pid)
    assert.deepEqual(inProcess.bus.bootstrapBrokers, [`${lock?.host}:${lock?.port}`])
    assert.equal(readBrokerLock(dataDir), undefined, 'the other data dir is not used')
    // A second command on the same data dir meanwhile shares that broker.
    const second = await connect({ clientId: 'c', env: { TICKFLOW_LOCAL_BROKER: closed, TICKFLOW_DATA_DIR: own } })
    assert.equal(second.kind, 'shared')
    assert.deepEqual(second.bus.bootstrapBrokers, inProcess.bus.bootstrapBrokers)
  } finally {
    await inProcess.close()
  }
  assert.equal(readBrokerLock(own), undefined, 'closing releases the data dir')
  assert.ok(!fs.existsSync(path.join(own, 'broker.lock')))
})

test('without any broker, produce and a later stats share the data through an embedded broker', async (t) => {
  const dataDir = tempDir(t)
  const cwd = tempDir(t)
  const options = { env: cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dataDir }), cwd }
  const produced = await runCli(['produce', 'prices', '--count', '1000', '--seed', '3'], options)
  assertOk(produced, 'produce')
  assert.equal(producedCount(produced.stdout), 1000)
  assert.equal(EMBEDDED.exec(brokerLine(produced))?.[1], dataDir)
  assert.equal(readBrokerLock(dataDir), undefined, 'the embedded broker stopped with the command')

  const stats = await runCli(['stats', '--json'], options)
  assert.match(brokerLine(stats), EMBEDDED)
  const json = statsOf(stats)
  assert.equal(json.count, 1000)
  assert.equal(json.invalid, 0)
  assert.equal(
    Object.values(json.symbols).reduce((a, s) => a + s.count, 0),
    1000,
  )
  // Nothing went to the working directory's default ./data.
  assert.deepEqual(fs.readdirSync(cwd), [])

  // --data-dir beats TICKFLOW_DATA_DIR: another, empty, data dir has no prices topic.
  const other = await runCli(['stats', '--data-dir', tempDir(t)], options)
  assert.equal(other.code, 1, other.stderr)
  assert.match(lines(other.stderr)[0], EMBEDDED)
})

test('while a command holds the data dir, others use its broker through the lock file', async (t) => {
  const dataDir = tempDir(t)
  const options = {
    env: cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dataDir }),
    cwd: tempDir(t),
  }
  const holder = startCli(['produce', 'prices', '--rate', '100', '--seed', '8'], options)
  t.after(() => holder.child.kill('SIGKILL'))
  assert.match(await holder.waitForStderr(/^tickflow: /), EMBEDDED)
  const lock = readBrokerLock(dataDir)
  assert.equal(lock?.pid, holder.child.pid, 'the lock names the producing process')
  const address = `${lock!.host}:${lock!.port}`
  const shared = new RegExp(`^tickflow: using the broker of process ${holder.child.pid} on ${address} \\(data dir `)

  const side = await runCli(['produce', 'prices', '--topic', 'side', '--count', '200', '--seed', '9'], options)
  assertOk(side, 'the second produce')
  assert.match(brokerLine(side), shared)
  assert.equal(await topicSize(address, 'side'), 200, 'written to the holder’s broker')
  const stats = await runCli(['stats', '--json'], options)
  assert.match(brokerLine(stats), shared)
  const during = statsOf(stats).count
  assert.ok(during > 0, 'stats sees what the holder has produced so far')

  holder.child.kill('SIGINT')
  const done = await holder.exited
  assertOk(done, 'the interrupted produce')
  const total = producedCount(done.stdout)
  assert.ok(total >= during)
  assert.equal(readBrokerLock(dataDir), undefined, 'the holder released the data dir')

  // Afterwards a command starts its own embedded broker and sees all of it.
  const after = await runCli(['stats', '--json'], options)
  assert.match(brokerLine(after), EMBEDDED)
  assert.equal(statsOf(after).count, total)
  const sideAfter = await runCli(['stats', '--json', '--topic', 'side'], options)
  assert.equal(statsOf(sideAfter).count, 200)
})

test('TICKFLOW_LOCAL_BROKER names the local broker; --brokers beats TICKFLOW_BROKERS', async (t) => {
  const a = await startTestBroker(t)
  const b = await startTestBroker(t)
  const dataDir = tempDir(t)
  const base = { TICKFLOW_DATA_DIR: dataDir }
  const cwd = tempDir(t)
  const produce = (topic: string, env: Record<string, string>, extra: string[] = []) =>
    runCli(['produce', 'prices', '--topic', topic, '--count', '50', '--seed', '1', ...extra], {
      env: cliEnv({ ...base, TICKFLOW_LOCAL_BROKER: b.address, ...env }),
      cwd,
    })

  const viaLocal = await produce('local', {})
  assertOk(viaLocal, 'produce')
  assert.equal(brokerLine(viaLocal), `tickflow: using the broker listening on ${b.address}`)
  assert.equal(await topicSize(b.address, 'local'), 50)

  // TICKFLOW_BROKERS beats the local broker.
  const viaEnv = await produce('env', { TICKFLOW_BROKERS: a.address })
  assertOk(viaEnv, 'produce')
  assert.equal(brokerLine(viaEnv), `tickflow: using the Kafka brokers ${a.address} (TICKFLOW_BROKERS)`)
  assert.equal(await topicSize(a.address, 'env'), 50)

  // --brokers beats TICKFLOW_BROKERS.
  const viaFlag = await produce('flag', { TICKFLOW_BROKERS: a.address }, ['--brokers', b.address])
  assertOk(viaFlag, 'produce')
  assert.equal(brokerLine(viaFlag), `tickflow: using the Kafka brokers ${b.address} (--brokers)`)
  assert.equal((await readTopic(b.address, 'flag')).length, 50)
  for (const [broker, topics] of [
    [a, ['env']],
    [b, ['local', 'flag']],
  ] as const) {
    const stats = await Promise.all(
      ['local', 'env', 'flag'].map((topic) =>
        runCli(['stats', '--json', '--topic', topic, '--brokers', broker.address], {
          env: cliEnv({ ...base, TICKFLOW_LOCAL_BROKER: b.address }),
          cwd,
        }),
      ),
    )
    for (const [i, topic] of ['local', 'env', 'flag'].entries()) {
      if ((topics as readonly string[]).includes(topic)) assert.equal(statsOf(stats[i]).count, 50)
      else assert.equal(stats[i].code, 1, `${topic} is not on ${broker.address}`)
    }
  }
  assert.deepEqual(fs.readdirSync(dataDir), [], 'no embedded broker was started')
})
