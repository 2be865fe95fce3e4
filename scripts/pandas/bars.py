#!/usr/bin/env python3
"""Reference OHLCV bars for test/analytics/bars.test.ts, computed with pandas.

Writes test/fixtures/analytics/bars-<name>.json.gz: deterministic tick streams in arrival order and,
for the 1s, 1m and 5m intervals, the records that are late and the expected bars.

Usage (python3 with pandas, e.g. Debian's python3-pandas), from the repository root:

    python3 scripts/pandas/bars.py [--out DIR]

The output is byte-for-byte reproducible (seeded `random.Random`, gzip without a timestamp).

Rules (the definitions in the analytics design):
  * a bar covers [start, end), aligned to the Unix epoch, labelled by start; empty windows emit nothing;
  * open/close = first/last price by event time; equal event times keep arrival order, so the
    earlier arrival is the open and the later one the close; volume = sum of quantity,
    trades = count, vwap = sum(price * quantity) / sum(quantity);
  * watermark = max event time seen - allowed lateness; a record is late when its window
    [s, e) is final on arrival: e + grace <= watermark (the watermark before that record).
    Late records are not aggregated; lateness is decided per interval.

Fixture layout (JSON, gzip):
  symbols: names; ticks: {t0, dt, sym, price, qty} in arrival order, where the event time of tick i
  is t0 + dt[0] + ... + dt[i] (dt[0] = 0; dt is negative for out-of-order records) and sym indexes
  symbols; intervals: [{interval, ms, late: [tick indices], bars: {sym, start, open, high, low,
  close, volume, trades, vwap}}], bars sorted by start, then symbol (code-point order).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

INTERVALS = [('1s', 1000, '1s'), ('1m', 60_000, '1min'), ('5m', 300_000, '5min')]


@dataclass(frozen=True)
class SymbolSpec:
    name: str
    weight: float
    cents: int  # starting price in cents
    active_until: float = 1.0  # fraction of the stream after which the symbol falls silent


@dataclass(frozen=True)
class StreamSpec:
    name: str
    seed: int
    ticks: int
    t0: int  # event time of the first tick, epoch ms
    lateness: int
    grace: int
    mean_gap: float  # mean event-time gap between consecutive ticks, ms
    symbols: list[SymbolSpec]


SMALL = [
    SymbolSpec('AAPL', 4, 18_912),
    SymbolSpec('MSFT', 3, 41_577),
    SymbolSpec('BTC-USD', 2, 6_512_345),
    SymbolSpec('penny', 1, 57),
    # Trades only in the first quarter: its windows must close on the other symbols' watermark.
    SymbolSpec('IDLE', 1, 1_000, active_until=0.25),
]

LONG = [
    SymbolSpec('AAPL', 8, 18_912),
    SymbolSpec('AMZN', 5, 17_820),
    SymbolSpec('BRK.B', 1, 41_002),
    SymbolSpec('BTC-USD', 6, 6_512_345),
    SymbolSpec('ES=F', 4, 515_025),
    SymbolSpec('ETH-USD', 5, 351_277),
    SymbolSpec('EURUSD', 3, 108),
    SymbolSpec('GOOG', 3, 15_233),
    SymbolSpec('JPM', 2, 19_650),
    SymbolSpec('META', 3, 49_870),
    SymbolSpec('MSFT', 6, 41_577),
    SymbolSpec('NVDA', 7, 90_010),
    SymbolSpec('SPY', 6, 51_234),
    SymbolSpec('TSLA', 5, 17_500),
    SymbolSpec('XAU', 0.3, 215_040),
    SymbolSpec('idx.vix', 0.5, 1_377, active_until=0.2),
]

STREAMS = [
    StreamSpec('small', seed=1, ticks=4_000, t0=1_709_301_537_123, lateness=2_000, grace=500, mean_gap=160,
               symbols=SMALL),
    # No allowed lateness, a grace of 2.5 s, and event times straddling the Unix epoch (negative ms).
    StreamSpec('no-lateness', seed=2, ticks=30_000, t0=-600_000 + 4_321, lateness=0, grace=2_500, mean_gap=40,
               symbols=LONG[:8]),
    StreamSpec('long', seed=3, ticks=200_000, t0=1_709_301_537_123, lateness=1_000, grace=0, mean_gap=4,
               symbols=LONG),
]


def generate(spec: StreamSpec) -> pd.DataFrame:
    """Ticks in arrival order: columns ts (event time, ms), symbol, price, qty."""
    rng = random.Random(spec.seed)
    cents = {s.name: s.cents for s in spec.symbols}
    rows = []  # (arrival key, seq, ts, symbol, price, qty)
    now = spec.t0
    prev_symbol = spec.symbols[0].name
    for seq in range(spec.ticks):
        if seq > 0:
            r = rng.random()
            if r < 0.25:
                gap = 0  # equal event times, across and (below) within symbols
            else:
                gap = int(rng.expovariate(1 / (spec.mean_gap / 0.75)))
            now += gap
            boundary = -(-now // 1000) * 1000  # the next second boundary (ceil)
            if boundary - now <= 2 * spec.mean_gap and rng.random() < 0.3:
                now = boundary  # exactly on a window boundary: it belongs to the next window
        frac = seq / spec.ticks
        live = [s for s in spec.symbols if frac < s.active_until]
        if rng.random() < 0.05 and any(s.name == prev_symbol for s in live):
            symbol = prev_symbol  # often the same event time as its previous tick: a tie
        else:
            symbol = rng.choices([s.name for s in live], weights=[s.weight for s in live])[0]
        prev_symbol = symbol
        cents[symbol] = max(1, cents[symbol] + rng.randint(-3, 3))
        qty = 1 + min(int(rng.expovariate(1 / 40)), 999)
        # Arrival: most in order; some delayed within the lateness (never late), some beyond it
        # (late or not depending on the window), a few by minutes (late for every interval).
        r = rng.random()
        if r < 0.04 and spec.lateness > 0:
            delay = rng.randint(1, spec.lateness)
        elif r < 0.05:
            delay = rng.randint(spec.lateness + 1, spec.lateness + spec.grace + 3_000)
        elif r < 0.051:
            delay = rng.randint(60_000, 400_000)
        else:
            delay = 0
        rows.append((now + delay, seq, now, symbol, cents[symbol] / 100, qty))
    rows.sort(key=lambda row: (row[0], row[1]))
    return pd.DataFrame([row[2:] for row in rows], columns=['ts', 'symbol', 'price', 'qty'])


def late_indices(ts: list[int], ms: int, lateness: int, grace: int) -> list[int]:
    """Arrival indices of late records: window end + grace <= the watermark before the record."""
    watermark = -math.inf
    late = []
    for i, t in enumerate(ts):
        start = t - t % ms  # Python's % floors, also for negative t
        if start + ms + grace <= watermark:
            late.append(i)
        watermark = max(watermark, t - lateness)
    return late


def pandas_bars(df: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Bars of accepted records in arrival order; pandas does the grouping and aggregation."""
    df = df.assign(pq=df['price'] * df['qty'], time=pd.to_datetime(df['ts'], unit='ms'))
    # A stable sort by event time keeps arrival order among equal times: first = earlier arrival.
    df = df.sort_values('ts', kind='stable').set_index('time')
    g = df.groupby('symbol').resample(rule, label='left', closed='left', origin='epoch')
    bars = g['price'].ohlc()
    bars['volume'] = g['qty'].sum()
    bars['trades'] = g['price'].count()
    bars['vwap'] = g['pq'].sum() / bars['volume']
    bars = bars[bars['trades'] > 0].reset_index()  # resample fills empty windows; drop them
    bars['start'] = bars['time'].astype('int64') // 1_000_000
    return bars.sort_values(['start', 'symbol'], kind='stable').reset_index(drop=True)


def fold_bars(df: pd.DataFrame, ms: int) -> dict[tuple[int, str], tuple]:
    """The same bars by a plain fold in arrival order, to check pandas' ordering assumptions."""
    acc: dict[tuple[int, str], list] = {}
    for t, symbol, price, qty in df.itertuples(index=False):
        key = (t - t % ms, symbol)
        b = acc.get(key)
        if b is None:
            acc[key] = [t, price, price, price, t, price, qty, 1, price * qty]
            continue
        if t < b[0]:
            b[0], b[1] = t, price
        b[2] = max(b[2], price)
        b[3] = min(b[3], price)
        if t >= b[4]:
            b[4], b[5] = t, price
        b[6] += qty
        b[7] += 1
        b[8] += price * qty
    return {k: (b[1], b[2], b[3], b[5], b[6], b[7], b[8] / b[6]) for k, b in acc.items()}


def build(spec: StreamSpec) -> dict:
    df = generate(spec)
    ts = df['ts'].tolist()
    names = sorted({s.name for s in spec.symbols})
    index = {name: i for i, name in enumerate(names)}
    out = {
        'generator': 'scripts/pandas/bars.py',
        'pandas': pd.__version__,
        'name': spec.name,
        'seed': spec.seed,
        'allowedLatenessMs': spec.lateness,
        'graceMs': spec.grace,
        'symbols': names,
        'ticks': {
            't0': ts[0],
            'dt': [0] + [b - a for a, b in zip(ts, ts[1:])],
            'sym': [index[s] for s in df['symbol']],
            'price': df['price'].tolist(),
            'qty': df['qty'].tolist(),
        },
        'intervals': [],
    }
    for label, ms, rule in INTERVALS:
        late = late_indices(ts, ms, spec.lateness, spec.grace)
        accepted = df.drop(index=late)
        bars = pandas_bars(accepted, rule)
        check = fold_bars(accepted, ms)
        assert len(check) == len(bars), f'{spec.name} {label}: pandas and fold disagree on the bar count'
        for row in bars.itertuples(index=False):
            o, h, l, c, vol, n, vwap = check[(row.start, row.symbol)]
            assert (row.open, row.high, row.low, row.close, row.volume, row.trades) == (o, h, l, c, vol, n), row
            assert abs(row.vwap - vwap) <= 1e-12 * abs(vwap), row
        out['intervals'].append({
            'interval': label,
            'ms': ms,
            'late': late,
            'bars': {
                'sym': [index[s] for s in bars['symbol']],
                'start': [int(x) for x in bars['start']],
                'open': [float(x) for x in bars['open']],
                'high': [float(x) for x in bars['high']],
                'low': [float(x) for x in bars['low']],
                'close': [float(x) for x in bars['close']],
                'volume': [int(x) for x in bars['volume']],
                'trades': [int(x) for x in bars['trades']],
                'vwap': [float(x) for x in bars['vwap']],
            },
        })
        print(f'{spec.name}: {len(ts)} ticks, {label}: {len(bars)} bars, {len(late)} late')
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='test/fixtures/analytics', help='output directory')
    args = parser.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for spec in STREAMS:
        data = json.dumps(build(spec), separators=(',', ':')).encode()
        path = out_dir / f'bars-{spec.name}.json.gz'
        with open(path, 'wb') as f, gzip.GzipFile(filename='', mode='wb', fileobj=f, mtime=0) as gz:
            gz.write(data)
        print(f'wrote {path} ({path.stat().st_size} bytes)')


if __name__ == '__main__':
    main()
