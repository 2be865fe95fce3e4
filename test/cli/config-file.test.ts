import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { loadConfig, parseConfig } from '../../src/cli/config-file.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { tempDir } from '../helpers/broker.ts'

test('no file: no routes; a file: its routes; errors name the file', (t) => {
  const dir = tempDir(t)
  assert.deepEqual(loadConfig(undefined, {}), {
    source: undefined,
    archive: { routes: undefined },
    exchange: { instruments: undefined },
  })
  const file = path.join(dir, 'tickflow.json')
  fs.writeFileSync(
    file,
    JSON.stringify({ archive: { routes: [{ topic: 'x', table: 'y', columns: [{ column: 'a', type: 'double' }] }] } }),
  )
  const c = loadConfig(file, {})
  assert.equal(c.source, file)
  assert.deepEqual(c.archive.routes, [
    { topic: 'x', table: 'y', columns: [{ column: 'a', field: 'a', type: 'double', required: false }] },
  ])
  assert.equal(loadConfig(undefined, { TICKFLOW_CONFIG: file }).source, file)
  const failures: Array<[() => unknown, RegExp]> = [
    [() => loadConfig(path.join(dir, 'missing.json'), {}), /cannot read config file/],
    [() => parseConfig('{', 'f.json'), /^f.json is not valid JSON/],
    [() => parseConfig('[]', 'f.json'), /must hold a JSON object/],
    [() => parseConfig('{"archiv": {}}', 'f.json'), /unknown section "archiv"/],
    [() => parseConfig('{"archive": {"route": []}}', 'f.json'), /unknown key archive.route/],
    [() => parseConfig('{"archive": {"routes": [{"topic": "a"}]}}', 'f.json'), /^f.json: archive.routes\[0\].table/],
  ]
  for (const [fn, message] of failures) {
    assert.throws(fn, (err: { code?: string; message?: string }) => {
      assert.equal(err.code, ErrorCodes.INVALID_CONFIG)
      assert.match(err.message ?? '', message)
      assert.equal((err.message ?? '').split('\n').length, 1)
      return true
    })
  }
})

test('the exchange section: tick and lot sizes per instrument, checked', () => {
  const c = parseConfig(
    '{"exchange": {"instruments": {"TCS": {"tickSize": 0.05}, "BTC": {"tickSize": 0.5, "lotSize": 0.001}}}}',
    'f.json',
  )
  assert.deepEqual(c.exchange.instruments, {
    TCS: { tickSize: 0.05, lotSize: 1 },
    BTC: { tickSize: 0.5, lotSize: 0.001 },
  })
  assert.equal(parseConfig('{"exchange": {}}', 'f.json').exchange.instruments, undefined)
  const failures: Array<[string, RegExp]> = [
    ['{"exchange": []}', /exchange must be an object/],
    ['{"exchange": {"books": {}}}', /unknown key exchange.books/],
    ['{"exchange": {"instruments": [1]}}', /exchange.instruments must be an object/],
    ['{"exchange": {"instruments": {"X": 1}}}', /exchange.instruments.X must be an object/],
    [
      '{"exchange": {"instruments": {"X": {"tickSize": 0}}}}',
      /exchange.instruments.X.tickSize must be a positive number/,
    ],
    ['{"exchange": {"instruments": {"X": {}}}}', /exchange.instruments.X.tickSize must be a positive number/],
    ['{"exchange": {"instruments": {"X": {"tickSize": 1, "lotSize": "1"}}}}', /X.lotSize must be a positive/],
    ['{"exchange": {"instruments": {"X": {"tickSize": 1, "tick": 1}}}}', /unknown key exchange.instruments.X.tick/],
  ]
  for (const [text, message] of failures) {
    assert.throws(
      () => parseConfig(text, 'f.json'),
      (err: { code?: string; message?: string }) =>
        err.code === ErrorCodes.INVALID_CONFIG && message.test(err.message ?? ''),
      text,
    )
  }
})
