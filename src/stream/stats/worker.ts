/**
 * The worker-thread side of a `stats` share: runs a {@link StatsTask} and answers the job's
 * messages — `pass-two` with the merged summaries — over the parent port.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { StatsTask, type TaskSpec } from './task.ts'

const port = parentPort!
const task = new StatsTask(workerData as TaskSpec)

try {
  let last = 0
  const one = await task.passOne((read) => {
    if (read - last >= 100_000) {
      last = read
      port.postMessage({ type: 'progress', read })
    }
  })
  port.postMessage({ type: 'pass-one', result: one })
  const message = await new Promise<{ summaries: never; k: number }>((resolve) => port.once('message', resolve))
  const outliers = await task.passTwo(message.summaries, message.k)
  port.postMessage({ type: 'pass-two', outliers })
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message })
} finally {
  await task.close()
}
