/**
 * The terminal summary of `tickflow up`: per symbol the last price, the message count and the rate
 * over the last seconds, fed from what is read back from the topic (so it shows what the log holds,
 * not what a feed meant to send).
 */
import { formatCount } from './progress.ts'

interface Row {
  last: number
  lastTs: string
  count: number
}

/** Per-key counters with a sliding rate window. */
export class Board {
  private readonly rows = new Map<string, Row>()
  // Count snapshots of the last `windowSeconds` ticks, for the rates.
  private readonly history: { at: number; counts: Map<string, number>; orders: number }[] = []
  orders = 0
  ordersInvalid = 0
  invalid = 0
  /** A line about the analytics processor, when it runs. */
  analyze: (() => string) | undefined
  /** A line about the matching engine, when it runs. */
  exchange: (() => string) | undefined
  /** The archiver's line, when it runs. */
  archive: (() => string) | undefined
  private readonly windowSeconds: number

  constructor(windowSeconds = 5) {
    this.windowSeconds = windowSeconds
  }

  price(symbol: string, price: number, ts: string): void {
    let row = this.rows.get(symbol)
    if (row === undefined) {
      row = { last: price, lastTs: ts, count: 0 }
      this.rows.set(symbol, row)
    }
    row.last = price
    row.lastTs = ts
    row.count++
  }

  /** Records a snapshot for the rates; call once a second. */
  tick(now: number): void {
    this.history.push({
      at: now,
      counts: new Map([...this.rows].map(([k, r]) => [k, r.count])),
      orders: this.orders,
    })
    while (this.history.length > this.windowSeconds + 1) this.history.shift()
  }

  /** The summary lines. */
  render(title: string): string[] {
    const first = this.history[0]
    const last = this.history[this.history.length - 1]
    const span = first !== undefined && last !== undefined ? (last.at - first.at) / 1000 : 0
    const rate = (now: number, then: number | undefined): string =>
      span > 0 ? `${((now - (then ?? 0)) / span).toFixed(1)}/s` : '-'
    const header = ['symbol', 'last', 'at', 'messages', 'rate']
    const rows = [...this.rows]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([symbol, r]) => [
        symbol,
        r.last.toFixed(2),
        r.lastTs.slice(11),
        formatCount(r.count),
        rate(last?.counts.get(symbol) ?? r.count, first?.counts.get(symbol)),
      ])
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
    const line = (cells: string[]): string =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
    const total = [...this.rows.values()].reduce((a, r) => a + r.count, 0)
    return [
      title,
      '',
      line(header),
      ...rows.map(line),
      '',
      `prices: ${formatCount(total)} messages` + (this.invalid > 0 ? ` (${formatCount(this.invalid)} invalid)` : ''),
      `orders: ${formatCount(this.orders)} messages, ${rate(last?.orders ?? this.orders, first?.orders)}` +
        (this.ordersInvalid > 0 ? ` (${formatCount(this.ordersInvalid)} invalid)` : ''),
      ...(this.analyze === undefined ? [] : [this.analyze()]),
      ...(this.exchange === undefined ? [] : [this.exchange()]),
      ...(this.archive === undefined ? [] : [this.archive()]),
    ]
  }
}
