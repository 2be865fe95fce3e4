import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { CopyBinary } from '../../src/store/copy-binary.ts'
import {
  appendRow,
  createTableSql,
  DEFAULT_ROUTES,
  parseRoutes,
  routeOf,
  timestampOf,
  typedKindOf,
  TYPED_TABLES,
  type ColumnType,
  type TableSpec,
} from '../../src/store/tables.ts'
import { fieldValue, readCopyBinary, type FieldType } from '../helpers/copy-binary.ts'

const FIELD_TYPES: Record<ColumnType, FieldType> = {
  text: 'text',
  double: 'float8',
  bigint: 'int8',
  integer: 'int4',
  boolean: 'bool',
  timestamp: 'timestamptz',
  json: 'jsonb',
}

/** The record's row as its fields' values (timestamps as epoch ms), or the reason there is none. */
const row = (spec: TableSpec, value: unknown): { fields?: unknown[]; reason?: string } => {
  const out = new CopyBinary()
  const reason = appendRow(out, spec, 't', 1, 7, value)
  if (reason !== undefined) {
    assert.equal(out.rows, 0, 'nothing written for a refused record')
    assert.equal(readCopyBinary(out.data()).length, 0)
    return { reason }
  }
  const rows = readCopyBinary(out.data())
  assert.equal(rows.length, 1)
  const types: FieldType[] = ['text', 'int4', 'int8', ...spec.columns.map((c) => FIELD_TYPES[c.type])]
  return { fields: rows[0].map((f, i) => fieldValue(types[i], f)) }
}

test('typed tables by topic name', () => {
  assert.equal(typedKindOf('prices'), 'prices')
  assert.equal(typedKindOf('bars.1m'), 'bars')
  assert.equal(typedKindOf('bars.'), undefined)
  assert.equal(typedKindOf('bars'), undefined)
  assert.equal(typedKindOf('volatility'), 'volatility')
  assert.equal(typedKindOf('constructor'), undefined, 'no prototype names')
  assert.equal(typedKindOf('signals'), undefined)
})

test('a record becomes a row with its position; each column converted to its type', () => {
  assert.deepEqual(row(TYPED_TABLES.prices, { ts: '2024-01-02 09:30:00.000', symbol: 'A\tB', price: 1.5, extra: 1 }), {
    fields: ['t', 1, 7, Date.UTC(2024, 0, 2, 9, 30), 'A\tB', 1.5, null],
  })
  assert.deepEqual(
    row(TYPED_TABLES.orders, {
      id: 5,
      instrument: 'TCS',
      trxn_type: 'SELL',
      quantity: 2,
      order_timestamp: '2023/03/12, 23:48:37',
      type: 'market',
    }),
    { fields: ['t', 1, 7, 5, 'TCS', 'SELL', 2, null, Date.UTC(2023, 2, 12, 23, 48, 37), null, 'market', null, null] },
  )
})

test('reasons: missing, wrong type, not allowed, not finite, beyond 32 bits, not an object', () => {
  const p = TYPED_TABLES.prices
  assert.match(row(p, { ts: '2024-01-02 09:30:00.000', symbol: 'A' }).reason!, /^price is missing/)
  assert.match(
    row(p, { ts: '2024-01-02 09:30:00.000', symbol: 'A', price: '1' }).reason!,
    /expected a finite number, got "1"/,
  )
  assert.match(row(p, { ts: 'yesterday', symbol: 'A', price: 1 }).reason!, /not a timestamp/)
  assert.match(row(p, { ts: '2024-01-02 09:30:00.000', symbol: 'A\0', price: 1 }).reason!, /NUL/)
  assert.match(row(p, [1, 2]).reason!, /not a JSON object/)
  assert.match(row(p, 'text').reason!, /not a JSON object/)
  const o = TYPED_TABLES.orders
  const order = { id: 1, instrument: 'X', trxn_type: 'BUY', quantity: 1, order_timestamp: '2023/03/12, 23:48:37' }
  assert.match(row(o, { ...order, trxn_type: 'buy' }).reason!, /"buy" is not one of BUY, SELL/)
  assert.match(row(o, { ...order, quantity: 1.5 }).reason!, /expected an integer/)
  assert.match(row(o, { ...order, id: 2 ** 60 }).reason!, /expected an integer/)
  assert.match(
    row(TYPED_TABLES.volatility, {
      ts: '2024-01-02 09:30:00.000',
      symbol: 'A',
      price: 1,
      outlier: false,
      window: 2 ** 31,
      count: 1,
    }).reason!,
    /beyond 32 bits/,
  )
})

test('timestamps: price and order formats, ISO 8601 with a zone, epoch ms', () => {
  assert.equal(timestampOf('2024-01-02 09:30:00.250'), Date.UTC(2024, 0, 2, 9, 30, 0, 250))
  assert.equal(timestampOf('2023/03/12, 23:48:37'), Date.UTC(2023, 2, 12, 23, 48, 37))
  assert.equal(timestampOf('2024-01-02T09:30:00+02:00'), Date.UTC(2024, 0, 2, 7, 30))
  assert.equal(timestampOf('2024-01-02T09:30:00.5Z'), Date.UTC(2024, 0, 2, 9, 30, 0, 500))
  assert.equal(timestampOf(1_700_000_000_000), 1_700_000_000_000)
  assert.equal(timestampOf('2024-01-02T09:30:00'), undefined, 'no zone: refused, not read as local time')
  assert.equal(timestampOf(Infinity), undefined)
  assert.equal(timestampOf(true), undefined)
})

test('routes: parsed and validated, matched by name or prefix, with nested fields', () => {
  const routes = parseRoutes([
    {
      topic: 'tickers.*',
      table: 'quotes',
      columns: [
        { column: 'symbol', required: true },
        { column: 'px', field: 'quote.price', type: 'double' },
        { column: 'raw', field: 'quote', type: 'json' },
      ],
    },
  ])
  assert.equal(routeOf(routes, 'tickers.fx')?.table, 'quotes')
  assert.equal(routeOf(routes, 'prices'), undefined)
  assert.equal(routeOf(DEFAULT_ROUTES, 'tickers.crypto')?.table, 'quotes_crypto')
  assert.deepEqual(row(routes[0], { symbol: 'S', quote: { price: 2.5, tab: '\t' } }), {
    fields: ['t', 1, 7, 'S', 2.5, '{"price":2.5,"tab":"\\t"}'],
  })
  assert.deepEqual(row(routes[0], { symbol: 'S' }), { fields: ['t', 1, 7, 'S', null, null] })
  assert.match(
    createTableSql('"s"', routes[0]),
    /CREATE TABLE IF NOT EXISTS "s"\."quotes" \(topic text NOT NULL, .*"symbol" text NOT NULL, "px" double precision, "raw" jsonb, PRIMARY KEY/,
  )
  const bad: Array<[unknown, RegExp]> = [
    [{}, /must be an array/],
    [[{ topic: '', table: 'x', columns: [{ column: 'a' }] }], /topic must be/],
    [[{ topic: 'a', table: 'Bad-Name', columns: [{ column: 'a' }] }], /lower-case SQL name/],
    [[{ topic: 'a', table: 'prices', columns: [{ column: 'a' }] }], /is taken/],
    [[{ topic: 'a', table: 'x', columns: [] }], /non-empty/],
    [[{ topic: 'a', table: 'x', columns: [{ column: 'offset' }] }], /offset is taken/],
    [[{ topic: 'a', table: 'x', columns: [{ column: 'a', type: 'money' }] }], /type must be one of/],
    [[{ topic: 'a', table: 'x', columns: [{ column: 'a', required: 'yes' }] }], /required must be/],
    [[{ topic: 'a', table: 'x', columns: [{ column: 'a', values: [1] }] }], /values must be/],
    [
      [
        { topic: 'a', table: 'x', columns: [{ column: 'a' }] },
        { topic: 'b', table: 'x', columns: [{ column: 'a' }] },
      ],
      /x is taken/,
    ],
  ]
  for (const [value, message] of bad) {
    assert.throws(
      () => parseRoutes(value),
      (err: { code?: string; message?: string }) => {
        assert.equal(err.code, ErrorCodes.INVALID_CONFIG)
        assert.match(err.message ?? '', message)
        return true
      },
    )
  }
})
