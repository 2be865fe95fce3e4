import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { main } from '../../../src/cli/main.ts'
import { tempDir } from '../../helpers/broker.ts'
import { brokerHome } from '../../helpers/wire.ts'
import { RawClient } from '../../helpers/raw-client.ts'
import { readApiVersionsResponse, writeApiVersionsRequest } from '../../../src/protocol/messages/index.ts'

const BIN = path.join(import.meta.dirname, '../../../bin/tickflow.js')

test('--help describes every option', () => {
  const r = spawnSync(process.execPath, [BIN, 'broker', '--help'], { encoding: 'utf8' })
  assert.equal(r.status, 0)
  for (const flag of ['--listen', '--data-dir', '--flush', '--partitions', '--no-auto-create', '--retention-ms']) {
    assert.ok(r.stdout.includes(flag), `help mentions ${flag}`)
  }
})

test('bad arguments exit 2 with one line and no stack trace', () => {
  for (const argv of [
    ['broker', '--bogus'],
    ['broker', '--listen', 'nonsense'],
    ['broker', '--flush', 'sometimes'],
    ['broker', '--partitions', '0'],
    ['broker', '--log-level', 'loud'],
  ]) {
    const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8' })
    assert.equal(r.status, 2, `${argv.join(' ')} exits 2`)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, `${argv.join(' ')} prints one line: ${r.stderr}`)
    assert.match(lines[0], /^tickflow broker: /)
  }
})

test('a port already in use exits 1 with one line', async (t) => {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const port = (server.address() as net.AddressInfo).port
  const err: string[] = []
  const code = await main(
    ['broker', '--listen', `127.0.0.1:${port}`, '--data-dir', tempDir(t), '--log-level', 'silent'],
    {
      out: () => {},
      err: (l) => err.push(l),
      stopSignal: new Promise(() => {}),
    },
  )
  assert.equal(code, 1)
  assert.equal(err.length, 1)
  assert.match(err[0], /EADDRINUSE/)
})

test('runs in the foreground, prints its address, serves clients, and stops on SIGTERM', async (t) => {
  const child = spawn(process.execPath, [BIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', tempDir(t)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  t.after(() => child.kill('SIGKILL'))
  const line = await new Promise<string>((resolve) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0])
    })
  })
  const m = /^tickflow broker listening on 127\.0\.0\.1:(\d+) \(data: .+\)$/.exec(line)
  assert.ok(m, `one line with the address: ${line}`)
  const client = await RawClient.connect(Number(m[1]))
  const res = await client.request(18, 3, writeApiVersionsRequest, readApiVersionsResponse, {
    clientSoftwareName: 'test',
    clientSoftwareVersion: '1',
  })
  client.close()
  assert.equal(res.errorCode, 0)
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})

test('a data directory in use by another broker exits 1 with one line naming its owner', async (t) => {
  const home = brokerHome(t)
  const owner = await home.start()
  const r = spawnSync(process.execPath, [BIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', home.dir], {
    encoding: 'utf8',
  })
  assert.equal(r.status, 1)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0], /^tickflow broker: data directory .* is in use by process (\d+) \(broker at (\S+),/)
  assert.ok(lines[0].includes(`process ${process.pid} (broker at ${owner.address},`), lines[0])
})
