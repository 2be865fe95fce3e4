import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  CsvRecordParser,
  JsonLinesParser,
  mapRow,
  parseMapOption,
  parseSpeed,
  parseTimestamp,
  resolveMapping,
  type CsvParserOptions,
  type FieldSpec,
  type ParsedRow,
  type RowParser,
} from '../../src/feeds/replay-parse.ts'

const INVALID = { code: 'TICKFLOW_ERR_INVALID_ARGUMENT' }
const CLOSED = { code: 'TICKFLOW_ERR_CLOSED' }

function csv(text: string, options?: CsvParserOptions): ParsedRow[] {
  const p = new CsvRecordParser(options)
  return [...p.push(text), ...p.end()]
}

function feed(p: RowParser, chunks: string[]): ParsedRow[] {
  const rows: ParsedRow[] = []
  for (const c of chunks) rows.push(...p.push(c))
  rows.push(...p.end())
  return rows
}

/** Splits `text` at every pair of positions (three chunks, some empty) and one character at a time. */
function* splits(text: string): Generator<string[]> {
  for (let i = 0; i <= text.length; i++) {
    for (let j = i; j <= text.length; j++) yield [text.slice(0, i), text.slice(i, j), text.slice(j)]
  }
  yield [...text]
}

// Quotes, doubled quotes, delimiters and CRLF/LF/CR inside quotes, CRLF and LF record ends, blank
// and whitespace-only lines, a wrong field count, text after a closing quote, no final line break.
const TRICKY =
  '\uFEFFts, symbol ,note\r\n' +
  '2021-03-10 16:21:32,AAPL,"a, ""quoted"" note"\r\n' +
  '\r\n' +
  '2021-03-10 16:21:33,"MSFT","two\r\nlines"\n' +
  '   \n' +
  '\n' +
  '2021-03-10 16:21:34 , IBM ,  "three\nline\rnote"  \r\n' +
  '2021-03-10 16:21:35,X,y,z\n' +
  '2021-03-10 16:21:36,"bad"x,n\r' +
  '2021-03-10 16:21:37,,""'

const TRICKY_ROWS: ParsedRow[] = [
  {
    line: 2,
    raw: '2021-03-10 16:21:32,AAPL,"a, ""quoted"" note"',
    fields: { ts: '2021-03-10 16:21:32', symbol: 'AAPL', note: 'a, "quoted" note' },
  },
  {
    line: 4,
    raw: '2021-03-10 16:21:33,"MSFT","two\r\nlines"',
    fields: { ts: '2021-03-10 16:21:33', symbol: 'MSFT', note: 'two\r\nlines' },
  },
  {
    line: 8,
    raw: '2021-03-10 16:21:34 , IBM ,  "three\nline\rnote"  ',
    fields: { ts: '2021-03-10 16:21:34', symbol: 'IBM', note: 'three\nline\rnote' },
  },
  { line: 11, raw: '2021-03-10 16:21:35,X,y,z', error: 'expected 3 fields, got 4' },
  { line: 12, raw: '2021-03-10 16:21:36,"bad"x,n', error: 'unexpected text after the closing quote of field 2' },
  { line: 13, raw: '2021-03-10 16:21:37,,""', fields: { ts: '2021-03-10 16:21:37', symbol: '', note: '' } },
]

test('CSV: a tricky file parses to the expected rows, with the line where each record starts', () => {
  const p = new CsvRecordParser()
  assert.deepEqual(feed(p, [TRICKY]), TRICKY_ROWS)
  assert.deepEqual(p.columns, ['ts', 'symbol', 'note'])
})

test('CSV: every chunk split of the tricky file gives identical rows', () => {
  for (const chunks of splits(TRICKY)) {
    assert.deepEqual(feed(new CsvRecordParser(), chunks), TRICKY_ROWS, JSON.stringify(chunks))
  }
})

test('CSV: every chunk split of a file ending inside a quote gives identical rows', () => {
  const text = 'a,b\r\n1,"x\r\n""y""\r\n2,3\r\n'
  const expected: ParsedRow[] = [{ line: 2, raw: '1,"x\r\n""y""\r\n2,3\r\n', error: 'unterminated quoted field' }]
  for (const chunks of splits(text)) assert.deepEqual(feed(new CsvRecordParser(), chunks), expected)
})

test('CSV: rows come out as soon as their record ends', () => {
  const p = new CsvRecordParser()
  assert.deepEqual(p.push('a,b\n1,'), [])
  assert.deepEqual(p.columns, ['a', 'b'])
  assert.deepEqual(p.push('2\n3,"4'), [{ line: 2, raw: '1,2', fields: { a: '1', b: '2' } }])
  // A CR ends the record at once; an LF in the next chunk completes the same line break.
  assert.deepEqual(p.push('"\r'), [{ line: 3, raw: '3,"4"', fields: { a: '3', b: '4' } }])
  assert.deepEqual(p.push('\n5,6'), [])
  assert.deepEqual(p.end(), [{ line: 4, raw: '5,6', fields: { a: '5', b: '6' } }])
})

test('CSV: line numbers count blank lines and newlines inside quotes', () => {
  const rows = csv('h1,h2\n\n\n"a\n\nb",1\n\r\n\r\nc,"2\r\n"\nd,3\n')
  assert.deepEqual(
    rows.map((r) => r.line),
    [4, 9, 11],
  )
  assert.deepEqual(rows[0].fields, { h1: 'a\n\nb', h2: '1' })
  assert.deepEqual(rows[1].fields, { h1: 'c', h2: '2\r\n' })
})

test('CSV: a header after blank lines still names the columns', () => {
  const p = new CsvRecordParser()
  assert.deepEqual(feed(p, ['\n  \n', 'x,y\n1,2\n']), [{ line: 4, raw: '1,2', fields: { x: '1', y: '2' } }])
  assert.deepEqual(p.columns, ['x', 'y'])
})

test('CSV: unquoted fields are trimmed, quoted ones keep their spaces', () => {
  assert.deepEqual(csv(' a , b \n  1  ,"  2 "\n')[0].fields, { a: '1', b: '  2 ' })
  assert.deepEqual(csv('a,b\n1\t,\t2\n')[0].fields, { a: '1', b: '2' })
})

test('CSV: a quote inside an unquoted field is kept as text', () => {
  assert.deepEqual(csv('a,b\n5" screen,x\n')[0].fields, { a: '5" screen', b: 'x' })
})

test('CSV: field-count errors keep the raw record and parsing goes on', () => {
  const rows = csv('a,b,c\n1,2,3,4\n1,2\n1,2,3\n,\n1,2,3,\n')
  assert.deepEqual(rows, [
    { line: 2, raw: '1,2,3,4', error: 'expected 3 fields, got 4' },
    { line: 3, raw: '1,2', error: 'expected 3 fields, got 2' },
    { line: 4, raw: '1,2,3', fields: { a: '1', b: '2', c: '3' } },
    { line: 5, raw: ',', error: 'expected 3 fields, got 2' },
    { line: 6, raw: '1,2,3,', error: 'expected 3 fields, got 4' },
  ])
})

test('CSV: an unterminated quote at the end is one error row at the line where the record starts', () => {
  assert.deepEqual(csv('a,b\n1,2\n3,"open\nmore,4\n'), [
    { line: 2, raw: '1,2', fields: { a: '1', b: '2' } },
    { line: 3, raw: '3,"open\nmore,4\n', error: 'unterminated quoted field' },
  ])
})

test('CSV: a quoted empty line is a record, not a blank line', () => {
  assert.deepEqual(csv('only\n""\n\n'), [{ line: 2, raw: '""', fields: { only: '' } }])
})

test('CSV: a quote that closes at the very end of input', () => {
  assert.deepEqual(csv('a\n"x"'), [{ line: 2, raw: '"x"', fields: { a: 'x' } }])
  assert.deepEqual(csv('a\n"x"  '), [{ line: 2, raw: '"x"  ', fields: { a: 'x' } }])
  assert.deepEqual(csv('a,b\n1,'), [{ line: 2, raw: '1,', fields: { a: '1', b: '' } }])
})

test('CSV: semicolon and tab delimiters', () => {
  assert.deepEqual(csv('a;b\n"1;2";3,5\n', { delimiter: ';' })[0].fields, { a: '1;2', b: '3,5' })
  assert.deepEqual(csv('a\tb\n x \t"y\tz"\n', { delimiter: '\t' })[0].fields, { a: 'x', b: 'y\tz' })
  assert.deepEqual(csv('a\t\tb\n1\t\t2\n', { delimiter: '\t' })[0].fields, { a: '1', '': '', b: '2' })
})

test('CSV: auto-detects the delimiter from the header line, at every split', () => {
  const text = '\n"x,y";b;c\n1,5;2;3\n'
  const expected = [{ line: 3, raw: '1,5;2;3', fields: { 'x,y': '1,5', b: '2', c: '3' } }]
  for (const chunks of splits(text)) {
    const p = new CsvRecordParser({ delimiter: 'auto' })
    assert.deepEqual(feed(p, chunks), expected)
    assert.equal(p.delimiter, ';')
  }
  const tab = new CsvRecordParser({ delimiter: 'auto' })
  assert.deepEqual(feed(tab, ['a\tb,c\td\n1\t2,3\t4']), [
    { line: 2, raw: '1\t2,3\t4', fields: { a: '1', 'b,c': '2,3', d: '4' } },
  ])
  // A tie goes to the comma.
  const tie = new CsvRecordParser({ delimiter: 'auto' })
  assert.deepEqual(feed(tie, ['a\tb,c\n1\t2,3']), [{ line: 2, raw: '1\t2,3', fields: { 'a\tb': '1\t2', c: '3' } }])
  assert.equal(tab.delimiter, '\t')
  const single = new CsvRecordParser({ delimiter: 'auto' })
  assert.deepEqual(feed(single, ['price']), [])
  assert.equal(single.delimiter, ',')
  assert.deepEqual(single.columns, ['price'])
})

test('CSV: unsupported options throw INVALID_ARGUMENT', () => {
  assert.throws(() => new CsvRecordParser({ delimiter: '|' as ',' }), INVALID)
  assert.throws(() => new CsvRecordParser({ maxRecordChars: 0 }), INVALID)
})

test('CSV: empty input, header only, and a BOM-only chunk', () => {
  const empty = new CsvRecordParser()
  assert.deepEqual(feed(empty, ['']), [])
  assert.equal(empty.columns, undefined)
  const headerOnly = new CsvRecordParser()
  assert.deepEqual(feed(headerOnly, ['\uFEFF', 'Date,Close\r\n']), [])
  assert.deepEqual(headerOnly.columns, ['Date', 'Close'])
})

test('CSV: a bad header throws INVALID_ARGUMENT', () => {
  assert.throws(() => csv('a,b,a\n1,2,3\n'), INVALID)
  assert.throws(() => csv('a,"b"c\n'), INVALID)
  assert.throws(() => csv('a,"b\n'), INVALID)
})

test('CSV: a record longer than maxRecordChars throws, whether it arrives whole or in pieces', () => {
  assert.throws(() => csv(`a\n"${'x'.repeat(100)}"\n`, { maxRecordChars: 50 }), INVALID)
  const p = new CsvRecordParser({ maxRecordChars: 50 })
  p.push('a\n"')
  assert.throws(() => {
    for (let i = 0; i < 10; i++) p.push('xxxxxxxxxx\n')
  }, INVALID)
  assert.deepEqual(csv(`a\n${'x'.repeat(50)}\n`, { maxRecordChars: 50 }).length, 1)
})

test('CSV: push or end after end throws CLOSED', () => {
  const p = new CsvRecordParser()
  p.end()
  assert.throws(() => p.push('a'), CLOSED)
  assert.throws(() => p.end(), CLOSED)
})

test('CSV: a column named __proto__ is an ordinary field', () => {
  const [row] = csv('__proto__,b\n1,2\n')
  assert.ok(row.fields !== undefined && Object.hasOwn(row.fields, '__proto__'))
  assert.equal(row.fields.__proto__, '1')
  assert.equal(Object.getPrototypeOf(row.fields), Object.prototype)
})

const JSONL =
  '\uFEFF{"ts":"2021-03-10 16:21:32.000","symbol":"AAPL","price":238.32}\r\n' +
  '\n' +
  '   \n' +
  '{"nested":{"a":[1,2]},"flag":true,"none":null}\n' +
  '{"ts": oops}\n' +
  '[1,2]\r\n' +
  '42\n' +
  'null\n' +
  '"text"\n' +
  '{"last":1}'

test('JSON lines: objects keep their parsed values; bad lines are error rows with their line', () => {
  const rows = feed(new JsonLinesParser(), [JSONL])
  assert.deepEqual(
    rows.map((r) => [r.line, r.fields ?? r.error]),
    [
      [1, { ts: '2021-03-10 16:21:32.000', symbol: 'AAPL', price: 238.32 }],
      [4, { nested: { a: [1, 2] }, flag: true, none: null }],
      [5, rows[2].error],
      [6, 'expected a JSON object'],
      [7, 'expected a JSON object'],
      [8, 'expected a JSON object'],
      [9, 'expected a JSON object'],
      [10, { last: 1 }],
    ],
  )
  assert.match(rows[2].error ?? '', /^invalid JSON: /)
  assert.equal(rows[2].raw, '{"ts": oops}')
  assert.equal(rows[3].raw, '[1,2]')
})

test('JSON lines: every chunk split gives identical rows', () => {
  const expected = feed(new JsonLinesParser(), [JSONL])
  for (const chunks of splits(JSONL)) assert.deepEqual(feed(new JsonLinesParser(), chunks), expected)
})

test('JSON lines: a truncated last line, an over-long line, and use after end', () => {
  const rows = feed(new JsonLinesParser(), ['{"a":1}\n{"b":'])
  assert.equal(rows.length, 2)
  assert.deepEqual([rows[1].line, rows[1].raw], [2, '{"b":'])
  assert.match(rows[1].error ?? '', /^invalid JSON: /)
  const p = new JsonLinesParser({ maxRecordChars: 20 })
  assert.throws(() => p.push(`{"a":"${'x'.repeat(30)}"}\n`), INVALID)
  const q = new JsonLinesParser({ maxRecordChars: 20 })
  assert.throws(() => {
    for (let i = 0; i < 5; i++) q.push('xxxxxxxxxx')
  }, INVALID)
  const r = new JsonLinesParser()
  r.end()
  assert.throws(() => r.push('{}'), CLOSED)
})

const ISO = (ms: number) => new Date(ms).toISOString()
const PRICES: FieldSpec[] = [
  {
    name: 'ts',
    kind: 'timestamp',
    aliases: ['timestamp', 'time', 'date', 'datetime'],
    format: (ms) => ISO(ms).replace('T', ' ').slice(0, 23),
  },
  { name: 'symbol', kind: 'string', aliases: ['ticker', 'sym', 'instrument'] },
  { name: 'price', kind: 'number', aliases: ['close', 'last', 'px', 'adj close'] },
]

test('resolveMapping: by name, ignoring case and spaces', () => {
  assert.deepEqual(resolveMapping([' TS ', 'Symbol', 'PRICE', 'volume'], PRICES), {
    mapping: { ts: ' TS ', symbol: 'Symbol', price: 'PRICE' },
    missing: [],
  })
})

test('resolveMapping: by alias, in the caller’s order, with _, - and space alike', () => {
  assert.deepEqual(resolveMapping(['Date', 'Open', 'High', 'Low', 'Adj_Close', 'Ticker'], PRICES), {
    mapping: { ts: 'Date', symbol: 'Ticker', price: 'Adj_Close' },
    missing: [],
  })
  // `close` comes before `adj close` in the aliases, so Close wins over Adj-Close.
  assert.equal(resolveMapping(['time', 'sym', 'Adj-Close', 'Close'], PRICES).mapping.price, 'Close')
  assert.equal(resolveMapping(['date', 'TIME', 'sym', 'px'], PRICES).mapping.ts, 'TIME')
})

test('resolveMapping: explicit mappings win, and a column taken is not reused', () => {
  const r = resolveMapping(['Date', 'Close', 'Last', 'Ticker'], PRICES, { price: 'Last' })
  assert.deepEqual(r, { mapping: { price: 'Last', ts: 'Date', symbol: 'Ticker' }, missing: [] })
  // A field's own name beats another field's alias.
  const specs: FieldSpec[] = [
    { name: 'price', kind: 'number', aliases: ['close'] },
    { name: 'close', kind: 'number', optional: true },
  ]
  assert.deepEqual(resolveMapping(['close', 'price'], specs).mapping, { price: 'price', close: 'close' })
  assert.deepEqual(resolveMapping(['close'], specs).mapping, { close: 'close' })
  assert.deepEqual(resolveMapping(['close'], specs).missing, ['price'])
  // An explicit column matches ignoring case when it is unambiguous.
  assert.equal(resolveMapping(['Adj Close', 'Date', 'sym'], PRICES, { price: 'adj close' }).mapping.price, 'Adj Close')
})

test('resolveMapping: required fields without a column are missing; optional ones are not', () => {
  const specs: FieldSpec[] = [...PRICES, { name: 'volume', kind: 'integer', optional: true }]
  assert.deepEqual(resolveMapping(['Date', 'Open'], specs), { mapping: { ts: 'Date' }, missing: ['symbol', 'price'] })
})

test('resolveMapping: unknown explicit columns or fields, and ambiguous matches, throw INVALID_ARGUMENT', () => {
  assert.throws(() => resolveMapping(['Date', 'Close'], PRICES, { price: 'Nope' }), INVALID)
  assert.throws(() => resolveMapping(['Date', 'Close'], PRICES, { nope: 'Close' }), INVALID)
  assert.throws(() => resolveMapping(['Close', 'close', 'Date'], PRICES, { price: 'CLOSE' }), INVALID)
  assert.throws(() => resolveMapping(['Symbol', 'SYMBOL', 'Date', 'px'], PRICES), INVALID)
  // An exact match settles it.
  assert.equal(resolveMapping(['symbol', 'SYMBOL', 'Date', 'px'], PRICES).mapping.symbol, 'symbol')
})

test('mapRow: converts by kind, keeps field order and drops unmapped columns', () => {
  const mapping = { ts: 'Date', symbol: 'Ticker', price: 'Close' }
  const r = mapRow({ Close: ' 238.32 ', Open: '1', Ticker: ' AAPL ', Date: '2021-03-10 16:21:32' }, mapping, PRICES)
  assert.deepEqual(r, {
    value: { ts: '2021-03-10 16:21:32.000', symbol: 'AAPL', price: 238.32 },
    eventTimeMs: Date.UTC(2021, 2, 10, 16, 21, 32),
  })
  assert.deepEqual(Object.keys('value' in r ? r.value : {}), ['ts', 'symbol', 'price'])
})

test('mapRow: JSON values stay typed; missing keys are errors naming the field', () => {
  const mapping = { ts: 'ts', symbol: 'symbol', price: 'price' }
  assert.deepEqual(mapRow({ ts: 1615393292, symbol: 'AAPL', price: 238.32 }, mapping, PRICES), {
    value: { ts: '2021-03-10 16:21:32.000', symbol: 'AAPL', price: 238.32 },
    eventTimeMs: 1615393292000,
  })
  assert.deepEqual(mapRow({ ts: 1615393292, price: null }, mapping, PRICES), {
    error: 'symbol: missing; price: missing',
  })
})

test('mapRow: a column named like an Object.prototype member is not read from the prototype', () => {
  const specs: FieldSpec[] = [{ name: 'symbol', kind: 'string' }]
  assert.deepEqual(mapRow({}, { symbol: 'constructor' }, specs), { error: 'symbol: missing' })
  assert.deepEqual(mapRow({}, {}, specs), { error: 'symbol: missing' })
})

function convert(spec: FieldSpec, v: unknown): unknown {
  const r = mapRow({ c: v }, { [spec.name]: 'c' }, [spec])
  return 'error' in r ? { error: r.error } : r.value[spec.name]
}

test('mapRow number: accepts plain decimals, rejects separators, currency and non-finite values', () => {
  const price: FieldSpec = { name: 'price', kind: 'number' }
  for (const [v, n] of [
    [238.32, 238.32],
    ['238.32', 238.32],
    ['  238.32\t', 238.32],
    ['-5', -5],
    ['+.5', 0.5],
    ['1e3', 1000],
    ['7.', 7],
    [0, 0],
  ] as const) {
    assert.equal(convert(price, v), n, String(v))
  }
  assert.deepEqual(convert(price, 'abc'), { error: 'price: not a number: "abc"' })
  for (const v of [
    '1,234.5',
    '238,32',
    '$5',
    '0x10',
    '1_000',
    'NaN',
    'Infinity',
    '1e999',
    '1.2.3',
    '- 5',
    Infinity,
    NaN,
    true,
    [1],
    {},
  ]) {
    const r = convert(price, v) as { error?: string }
    assert.match(r.error ?? '', /^price: not a number: /, String(v))
  }
  assert.deepEqual(convert(price, ''), { error: 'price: empty' })
  assert.deepEqual(convert(price, '   '), { error: 'price: empty' })
  assert.deepEqual(mapRow({ c: '' }, { price: 'c' }, [{ ...price, optional: true }]), { value: {} })
})

test('mapRow integer: a safe integer, from a number or a decimal string', () => {
  const qty: FieldSpec = { name: 'quantity', kind: 'integer' }
  assert.equal(convert(qty, 5), 5)
  assert.equal(convert(qty, ' 12 '), 12)
  assert.equal(convert(qty, '5.0'), 5)
  assert.equal(convert(qty, '-3'), -3)
  for (const v of [5.5, '5.5', 2 ** 53, '9007199254740993', '1e20', '1,000', 'five', '']) {
    const r = convert(qty, v) as { error?: string }
    assert.match(r.error ?? '', /^quantity: (not an integer|empty)/, String(v))
  }
  assert.deepEqual(convert(qty, 5.5), { error: 'quantity: not an integer: 5.5' })
})

test('mapRow string: trimmed and non-empty; numbers become text; optional blanks are omitted', () => {
  const sym: FieldSpec = { name: 'symbol', kind: 'string' }
  assert.equal(convert(sym, '  AAPL '), 'AAPL')
  assert.equal(convert(sym, 1000001), '1000001')
  assert.deepEqual(convert(sym, ' \t '), { error: 'symbol: empty' })
  assert.deepEqual(convert(sym, true), { error: 'symbol: not a string: true' })
  assert.deepEqual(convert(sym, { a: 1 }), { error: 'symbol: not a string: {"a":1}' })
  assert.deepEqual(mapRow({ c: ' ' }, { trader: 'c' }, [{ name: 'trader', kind: 'string', optional: true }]), {
    value: {},
  })
})

test('mapRow enum: case-insensitive, written as given in values', () => {
  const side: FieldSpec = { name: 'trxn_type', kind: 'enum', values: ['BUY', 'SELL'] }
  assert.equal(convert(side, 'buy'), 'BUY')
  assert.equal(convert(side, ' Sell '), 'SELL')
  assert.deepEqual(convert(side, 'hold'), { error: 'trxn_type: expected one of BUY, SELL: "hold"' })
  assert.match((convert(side, 1) as { error: string }).error, /^trxn_type: expected one of/)
  const tif: FieldSpec = { name: 'tif', kind: 'enum', values: ['GTC', 'IOC', 'FOK'], optional: true }
  assert.deepEqual(mapRow({}, { tif: 'TIF' }, [tif]), { value: {} })
})

test('mapRow timestamp: formatted by the spec, ISO by default; eventTimeMs is the first timestamp', () => {
  const specs: FieldSpec[] = [
    { name: 'a', kind: 'timestamp', optional: true },
    { name: 'b', kind: 'timestamp', format: (ms) => `ms=${ms}` },
    { name: 'c', kind: 'timestamp' },
  ]
  const mapping = { a: 'A', b: 'B', c: 'C' }
  assert.deepEqual(mapRow({ A: '', B: '1970-01-01T00:00:01Z', C: 2000 }, mapping, specs), {
    value: { b: 'ms=1000', c: '1970-01-01T00:33:20.000Z' },
    eventTimeMs: 1000,
  })
  assert.deepEqual(mapRow({ A: '2023-02-30', B: 'later', C: '2023-01-01' }, mapping, specs), {
    error: 'a: not a timestamp: "2023-02-30"; b: not a timestamp: "later"',
  })
})

test('mapRow: the orders topic shape', () => {
  const orders: FieldSpec[] = [
    { name: 'id', kind: 'integer' },
    { name: 'instrument', kind: 'string', aliases: ['symbol'] },
    { name: 'trxn_type', kind: 'enum', values: ['BUY', 'SELL'], aliases: ['side'] },
    { name: 'quantity', kind: 'integer', aliases: ['qty'] },
    { name: 'price', kind: 'number' },
    {
      name: 'order_timestamp',
      kind: 'timestamp',
      aliases: ['ts'],
      format: (ms) => ISO(ms).replace(/^(\d+)-(\d+)-(\d+)T([\d:]+)\..*$/, '$1/$2/$3, $4'),
    },
    { name: 'type', kind: 'enum', values: ['limit', 'market'], optional: true },
  ]
  const { mapping, missing } = resolveMapping(['ID', 'Symbol', 'Side', 'Qty', 'Price', 'TS', 'Type'], orders)
  assert.deepEqual(missing, [])
  const r = mapRow(
    { ID: '1000001', Symbol: 'TCS', Side: 'buy', Qty: '5', Price: '15.0', TS: '2023/03/12, 23:48:37', Type: 'LIMIT' },
    mapping,
    orders,
  )
  assert.deepEqual(r, {
    value: {
      id: 1000001,
      instrument: 'TCS',
      trxn_type: 'BUY',
      quantity: 5,
      price: 15,
      order_timestamp: '2023/03/12, 23:48:37',
      type: 'limit',
    },
    eventTimeMs: Date.UTC(2023, 2, 12, 23, 48, 37),
  })
})

test('parseTimestamp: date-time formats, UTC unless an offset is given', () => {
  const cases: [string, number][] = [
    ['2021-03-10 16:21:32', Date.UTC(2021, 2, 10, 16, 21, 32)],
    ['2021-03-10 16:21:32.000', Date.UTC(2021, 2, 10, 16, 21, 32)],
    ['2021-03-10 16:21:32.1', Date.UTC(2021, 2, 10, 16, 21, 32, 100)],
    ['2021-03-10 16:21:32.12', Date.UTC(2021, 2, 10, 16, 21, 32, 120)],
    ['2021-03-10 16:21:32.123456789', Date.UTC(2021, 2, 10, 16, 21, 32, 123)],
    ['2021-03-10 16:21:32.999999', Date.UTC(2021, 2, 10, 16, 21, 32, 999)],
    ['2021-03-10T16:21:32', Date.UTC(2021, 2, 10, 16, 21, 32)],
    ['2021-03-10T16:21:32.5Z', Date.UTC(2021, 2, 10, 16, 21, 32, 500)],
    ['2021-03-10t16:21:32z', Date.UTC(2021, 2, 10, 16, 21, 32)],
    ['2021-03-10T16:21:32+05:30', Date.UTC(2021, 2, 10, 10, 51, 32)],
    ['2021-03-10T16:21:32.250-08:00', Date.UTC(2021, 2, 11, 0, 21, 32, 250)],
    ['2021-03-10T16:21:32-0800', Date.UTC(2021, 2, 11, 0, 21, 32)],
    ['2021-03-10T16:21:32+01', Date.UTC(2021, 2, 10, 15, 21, 32)],
    ['2021-03-10 16:21:32 +00:00', Date.UTC(2021, 2, 10, 16, 21, 32)],
    ['2021-03-10 16:21', Date.UTC(2021, 2, 10, 16, 21)],
    ['2021-03-10', Date.UTC(2021, 2, 10)],
    ['2021/03/10', Date.UTC(2021, 2, 10)],
    ['2023/03/12, 23:48:37', Date.UTC(2023, 2, 12, 23, 48, 37)],
    ['2023/03/12 23:48:37', Date.UTC(2023, 2, 12, 23, 48, 37)],
    ['  2024-02-29 00:00:00  ', Date.UTC(2024, 1, 29)],
    ['2000-02-29', Date.UTC(2000, 1, 29)],
    ['1969-12-31 23:59:59', -1000],
  ]
  for (const [text, ms] of cases) assert.equal(parseTimestamp(text), ms, text)
  // Years below 100 are not shifted into the 1900s.
  assert.equal(new Date(parseTimestamp('0050-06-01') ?? NaN).getUTCFullYear(), 50)
})

test('parseTimestamp: agrees with Date on dates across years 1 to 9999', () => {
  for (let y = 1; y <= 9999; y += 7) {
    for (const [m, d] of [
      [1, 1],
      [2, 28],
      [3, 1],
      [12, 31],
    ]) {
      const date = new Date(0)
      date.setUTCFullYear(y, m - 1, d)
      const text = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
      assert.equal(parseTimestamp(`${text} 13:14:15.678`), date.getTime() + 47_655_678, text)
    }
  }
})

test('parseTimestamp: epoch seconds below 1e11, milliseconds above, and finer units beyond', () => {
  assert.equal(parseTimestamp(1615393292), 1615393292000)
  assert.equal(parseTimestamp(1615393292.123), 1615393292123)
  assert.equal(parseTimestamp('1615393292.5'), 1615393292500)
  assert.equal(parseTimestamp(' 1615393292 '), 1615393292000)
  assert.equal(parseTimestamp(99_999_999_999), 99_999_999_999_000)
  assert.equal(parseTimestamp(100_000_000_000), 100_000_000_000)
  assert.equal(parseTimestamp(1615393292123), 1615393292123)
  assert.equal(parseTimestamp('1615393292123'), 1615393292123)
  assert.equal(parseTimestamp(0), 0)
  assert.equal(parseTimestamp(-86400), -86_400_000)
  assert.equal(parseTimestamp(1615393292123456), 1615393292123)
  assert.equal(parseTimestamp('1615393292123456789'), 1615393292123)
})

test('parseTimestamp: invalid dates, times, offsets and other values are undefined', () => {
  for (const v of [
    '2023-02-29',
    '2023-02-30',
    '2100-02-29',
    '2023-04-31',
    '2023-13-01',
    '2023-00-10',
    '2023-01-00',
    '2023-01-01 24:00:00',
    '2023-01-01 23:60:00',
    '2023-01-01 23:59:60',
    '2023-01-01T10:00:00+24:00',
    '2023-01-01T10:00:00+05:60',
    '2023-01-01Z',
    '2023-01-01 10:00:00.1234567890',
    '2023-01/01',
    '2023-1-1',
    '23-01-01',
    '01/02/2023',
    '2023-01-01T',
    'yesterday',
    '',
    '1e9',
    '0x10',
    Infinity,
    NaN,
    1e300,
    '9'.repeat(400),
    null,
    undefined,
    true,
    {},
  ]) {
    assert.equal(parseTimestamp(v), undefined, String(v))
  }
})

test('parseMapOption: field=column pairs; column names may have spaces and =', () => {
  assert.deepEqual(parseMapOption('ts=Date,price=Close'), { ts: 'Date', price: 'Close' })
  assert.deepEqual(parseMapOption(' ts = Date , price = Adj Close '), { ts: 'Date', price: 'Adj Close' })
  assert.deepEqual(parseMapOption('x=a=b'), { x: 'a=b' })
})

test('parseMapOption: malformed options throw INVALID_ARGUMENT', () => {
  for (const text of ['', '  ', 'ts', 'ts=', '=Date', 'ts=Date,', 'ts=Date,,price=Close', 'ts=Date,ts=Time']) {
    assert.throws(() => parseMapOption(text), INVALID, JSON.stringify(text))
  }
})

test('parseSpeed: max is Infinity, otherwise a positive factor', () => {
  assert.equal(parseSpeed('max'), Infinity)
  assert.equal(parseSpeed('MAX'), Infinity)
  assert.equal(parseSpeed('1x'), 1)
  assert.equal(parseSpeed('10x'), 10)
  assert.equal(parseSpeed('10X'), 10)
  assert.equal(parseSpeed('0.5x'), 0.5)
  assert.equal(parseSpeed('.25x'), 0.25)
  assert.equal(parseSpeed('2.5'), 2.5)
  assert.equal(parseSpeed(' 3 '), 3)
})

test('parseSpeed: anything else throws INVALID_ARGUMENT', () => {
  for (const text of [
    '',
    'x',
    '0',
    '0x',
    '0.0x',
    '-1x',
    'fast',
    '1xx',
    '1 x',
    'Infinity',
    '1e3',
    '9'.repeat(400),
    'NaN',
  ]) {
    assert.throws(() => parseSpeed(text), INVALID, text)
  }
})
