import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ArchiveBatch, headersJson, parseJsonValue, type ArchiveRecord } from '../../src/store/archive-batch.ts'
import { DEFAULT_ROUTES } from '../../src/store/tables.ts'
import { fieldValue, readCopyBinary, type FieldType } from '../helpers/copy-binary.ts'

// The raw archive's columns after the position: ts, key, headers, value_json, value_bytes.
const ARCHIVE_TYPES: FieldType[] = ['text', 'int4', 'int8', 'timestamptz', 'bytea', 'jsonb', 'jsonb', 'bytea']
const archiveRows = (b: ArchiveBatch) =>
  readCopyBinary(b.archive.data()).map((row) => row.map((f, i) => fieldValue(ARCHIVE_TYPES[i], f)))

const rec = (
  topic: string,
  offset: number,
  value: string | Buffer | null,
  extra: Partial<ArchiveRecord> = {},
): ArchiveRecord => ({
  topic,
  partition: 0,
  offset,
  timestamp: 1000,
  key: null,
  value: typeof value === 'string' ? Buffer.from(value) : value,
  headers: [],
  ...extra,
})

test('values: JSON jsonb can hold, else bytes', () => {
  assert.deepEqual(parseJsonValue(Buffer.from('{"a":1}')), { json: true, text: '{"a":1}', value: { a: 1 } })
  assert.deepEqual(parseJsonValue(Buffer.from('42')), { json: true, text: '42', value: 42 })
  assert.equal(parseJsonValue(Buffer.from('{"a":')).json, false)
  assert.equal(parseJsonValue(Buffer.from('')).json, false)
  assert.equal(parseJsonValue(null).json, false)
  assert.equal(parseJsonValue(Buffer.from([0x7b, 0xff, 0x7d])).json, false, 'not UTF-8')
  assert.equal(parseJsonValue(Buffer.from('"\\u0000"')).json, false, 'jsonb refuses NUL')
  assert.equal(parseJsonValue(Buffer.from('"\\ud800"')).json, false, 'nor lone surrogates')
})

test('headers: strings when UTF-8, base64 otherwise, null kept', () => {
  assert.equal(
    headersJson([
      ['a', Buffer.from('x')],
      ['b', null],
      ['c', Buffer.from([0xff])],
    ]),
    '[["a","x"],["b",null],["c",{"base64":"/w=="}]]',
  )
  assert.equal(
    headersJson([['n\0', Buffer.from('x')]]),
    '[[{"base64":"bgA="},{"base64":"eA=="}]]',
    'a name jsonb cannot hold',
  )
})

test('a batch: archive rows, table rows, rejections and positions; rebuilt with refused records as bytes', () => {
  const b = new ArchiveBatch(DEFAULT_ROUTES)
  b.add(rec('prices', 0, '{"ts":"2024-01-02 09:30:00.000","symbol":"A","price":1}'))
  b.add(rec('prices', 1, '{"ts":"2024-01-02 09:30:00.000","symbol":"A"}'))
  b.add(rec('prices', 2, 'oops'))
  b.add(rec('tickers.stocks', 5, '{"symbol":"S","price":2}'))
  b.add(rec('other', 9, '{"free":"form"}', { key: Buffer.from('k'), headers: [['h', Buffer.from('v')]] }))
  b.skipTo('other', 0, 12)
  assert.equal(b.records, 5)
  assert.equal(b.archive.rows, 5)
  assert.deepEqual([...b.tables.keys()], ['prices', 'quotes_stocks'])
  assert.equal(b.tables.get('prices')!.rows.rows, 1)
  assert.deepEqual(
    b.rejected.map((r) => [r.record.offset, r.table, r.reason]),
    [
      [1, 'prices', 'price is missing (needed by prices.price)'],
      [2, 'prices', 'the value is not JSON'],
    ],
  )
  assert.deepEqual([...b.positions.get('prices')!], [[0, 3]])
  assert.deepEqual([...b.positions.get('other')!], [[0, 12]], 'past the markers after the last record')
  const rows = archiveRows(b)
  assert.equal(rows.length, 5)
  assert.deepEqual(rows[4], ['other', 0, 9, 1000, '6b', '[["h","v"]]', '{"free":"form"}', null])
  assert.deepEqual(rows[2], ['prices', 0, 2, 1000, null, null, null, Buffer.from('oops').toString('hex')])

  const refused = new Map([[b.list[0], 'something']])
  const again = b.rebuilt(refused)
  assert.equal(again.records, 5)
  assert.equal(again.tables.get('prices')?.rows.rows ?? 0, 0)
  assert.deepEqual(
    again.rejected.map((r) => [r.record.offset, r.reason]),
    [
      [0, 'the database refused it: something'],
      [1, 'price is missing (needed by prices.price)'],
      [2, 'the value is not JSON'],
    ],
  )
  const first = archiveRows(again)[0]
  assert.equal(first[6], null, 'not as JSON')
  assert.match(String(first[7]), /^7b/, 'archived as bytes')
  assert.deepEqual([...again.positions.get('other')!], [[0, 12]])
})
