/**
 * Test fixtures: an in-process broker on a free port with its own temporary data directory,
 * closed and removed after the test (like kfake's newCluster).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.ts'

/** A temporary directory removed after the test. */
export function tempDir(t: TestContext, prefix = 'tickflow-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Starts a broker on 127.0.0.1 and a free port; closed after the test. */
export async function startTestBroker(t: TestContext, options: BrokerOptions = {}): Promise<Broker> {
  const ownDir = options.dataDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-broker-')) : undefined
  const broker = await startBroker({ host: '127.0.0.1', port: 0, dataDir: ownDir, ...options })
  // One hook, so the directory is removed only after the broker has closed.
  t.after(async () => {
    await broker.close()
    if (ownDir !== undefined) fs.rmSync(ownDir, { recursive: true, force: true })
  })
  return broker
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
