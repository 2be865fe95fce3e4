/**
 * For end-to-end tests of the stream processor commands (`analyze`, `exchange`): a broker fed by
 * `tickflow produce` in a child process, whether a processor group has consumed all of it, runs
 * killed with SIGKILL as they progress, and stopping a processor as Ctrl-C would.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { Broker } from '../../src/broker/index.ts'
import { fetchCommittedOffsets, listEndOffsets } from './admin.ts'
import { eventually, startTestBroker, tempDir } from './broker.ts'
import { cliEnv, startCli, type RunningCli } from './cli.ts'

export interface FedBroker {
  broker: Broker
  env: NodeJS.ProcessEnv
  cwd: string
  /** The input topic. */
  topic: string
  /** The feed, running. */
  producer: RunningCli
}

/** A broker whose `topic` is being produced by `tickflow ${produce}` (the feed keeps running). */
export async function fedBroker(t: TestContext, topic: string, produce: string[]): Promise<FedBroker> {
  const broker = await startTestBroker(t)
  const cwd = tempDir(t)
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: broker.address, TICKFLOW_DATA_DIR: cwd })
  const producer = startCli(produce, { env, cwd })
  t.after(() => producer.child.kill('SIGKILL'))
  await eventually(async () => (await listEndOffsets(broker, topic).catch(() => [0])).some((o) => o > 0), 30_000, topic)
  return { broker, env, cwd, topic, producer }
}

/** True once the feed has ended and `group` has committed the end of every input partition. */
export async function consumedAll(s: FedBroker, group: string): Promise<boolean> {
  if (s.producer.child.exitCode === null) return false
  assert.equal(s.producer.child.exitCode, 0, s.producer.stderr())
  const ends = await listEndOffsets(s.broker, s.topic)
  const committed = await fetchCommittedOffsets(s.broker, group, s.topic, ends.length)
  // A partition that got nothing has nothing committed either.
  return ends.every((end, p) => committed.get(p) === end || (end === 0 && committed.get(p) === undefined))
}

/** The input offsets `group` has committed, summed over the input's partitions. */
async function committedTotal(s: FedBroker, group: string): Promise<number> {
  const ends = await listEndOffsets(s.broker, s.topic)
  const committed = await fetchCommittedOffsets(s.broker, group, s.topic, ends.length)
  return [...committed.values()].reduce((n, o) => n + Math.max(0, o), 0)
}

export interface CrashRunsOptions {
  /** Runs, each killed. */
  runs: number
  /** The input's record count. */
  total: number
  /** The longest random wait between reaching a run's mark and its kill. */
  jitterMs: number
}

/**
 * Starts `tickflow ${args}` on `s` `runs` times and kills each with SIGKILL. Kill i comes once
 * `group` has committed (i + 1) / (runs + 1) of the input, and more than before the run started
 * (so every run commits, its checkpoint included, and the kills spread over the stream), then at
 * a random point of the next `jitterMs`. Kills go by progress, not after a fixed delay: on a slow
 * machine a run killed too soon would never have committed, and there would be nothing to
 * restore. Returns the runs' stderr and how many kills came before the whole input was consumed.
 */
export async function crashRuns(
  t: TestContext,
  s: FedBroker,
  group: string,
  args: string[],
  options: CrashRunsOptions,
): Promise<{ stderr: string; killedMidStream: number }> {
  let stderr = ''
  let killedMidStream = 0
  for (let i = 0; i < options.runs; i++) {
    const before = await committedTotal(s, group)
    const run = startCli(args, s)
    t.after(() => run.child.kill('SIGKILL'))
    await run.waitForStderr(/generation \d+: partitions/)
    const mark = Math.max(Math.floor(((i + 1) * options.total) / (options.runs + 1)), before + 1)
    await eventually(
      async () => (await committedTotal(s, group)) >= mark || (await consumedAll(s, group)),
      120_000,
      `${group} to commit ${mark} records`,
    )
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * options.jitterMs)))
    run.child.kill('SIGKILL')
    stderr += (await run.exited).stderr
    if (!(await consumedAll(s, group))) killedMidStream++
  }
  return { stderr, killedMidStream }
}

/** Stops a processor with SIGINT once it runs (its signal handlers are set by then); it must exit 0. */
export async function stopProcessor(run: RunningCli): Promise<void> {
  await run.waitForStderr(/generation \d+: partitions/)
  run.child.kill('SIGINT')
  const r = await run.exited
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}: ${r.stderr}`)
}
