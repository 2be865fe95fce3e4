import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { test } from 'node:test'
import { main } from '../../src/cli/main.ts'

const BIN = path.join(import.meta.dirname, '../../bin/tickflow.js')

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    stopSignal: Promise.resolve('test'),
  })
  return { code, out, err }
}

test('--help lists every command; no command prints help and fails', async () => {
  const help = await run(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.out.join('\n'), /broker\s+Run the embedded Kafka-protocol broker/)
  const none = await run([])
  assert.equal(none.code, 1)
  assert.match(none.out.join('\n'), /Usage: tickflow <command>/)
})

test('--version prints the package version', async () => {
  const { code, out } = await run(['--version'])
  assert.equal(code, 0)
  assert.match(out[0], /^\d+\.\d+\.\d+/)
})

test('an unknown command exits 2 with one line', async () => {
  const { code, err } = await run(['brokr'])
  assert.equal(code, 2)
  assert.equal(err.length, 1)
  assert.match(err[0], /^tickflow: unknown command "brokr"/)
})

test('the bin script runs the CLI (as `npx tickflow` does)', () => {
  const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' })
  assert.equal(r.status, 0)
  assert.match(r.stdout, /Usage: tickflow <command>/)
})
