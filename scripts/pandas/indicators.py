#!/usr/bin/env python3
"""Reference fixtures for the per-tick indicators (src/analytics/indicators.ts), computed by pandas.

Run from the repository root with a python3 that has pandas and numpy (Debian's python3-pandas):

    python3 scripts/pandas/indicators.py          # writes test/fixtures/analytics/indicators-*.json.gz
    python3 scripts/pandas/indicators.py --check  # recomputes and fails if a committed fixture differs

Inputs are not stored: the script generates each price series from a 32-bit xorshift PRNG and integer
arithmetic only (see `generate`), and records the generator parameters in the fixture, so
test/analytics/indicators.test.ts regenerates the identical series and checks the stored sample of
prices first. Floats are written by Python's repr (shortest round-trip form), NaN as null, so every
value parses back to the same double.

Pandas definitions used (pandas 1.5.3 was used for the committed files):
  ema          s.ewm(span=S, adjust=False / True).mean()
  sma          s.rolling(N).mean()
  priceStd     s.rolling(N).std()                         (ddof = 1)
  volatility   np.log(s).diff().rolling(N).std()          (first value at index N)
  zscore       (s - m) / d, m and d = s.rolling(N, min_periods=2).mean() / .std(), shifted by one tick
               (the window before the price, excluding it); null where d is NaN or 0
  outlier      |zscore| > 3 and index >= 30 (30 previous prices)
  min, max     s.rolling(N, min_periods=1).min() / .max()

Each window also stores exact values (exactSma, exactPriceStd, exactVolatility, exactZscore,
exactOutlier): SMA, price std and z-score from integer arithmetic on the cents, volatility from two
passes over each window of log returns. pandas' rolling std is Welford's add/remove update without
recomputation, so it drifts: on the long series it is farther than 1e-9 (relative) from the exact
value at about 65% of the indices, by up to ~1e-4 in quiet stretches after volatile ones. The script
prints, per series, window and metric, at how many indices pandas is beyond that tolerance; the TS
test must then agree with the exact value instead.
"""

import argparse
import gzip
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

MASK32 = 0xFFFFFFFF
OUT_DIR = Path(__file__).resolve().parents[2] / 'test' / 'fixtures' / 'analytics'
Z_THRESHOLD = 3.0
MIN_POINTS = 30

# Generator parameters. `kind` names the algorithm of `generate`; change it if the algorithm changes.
SERIES = [
    {
        'name': 'short-a',
        'generator': {
            'kind': 'xorshift32-walk-v1', 'seed': 20240601, 'length': 500, 'startCents': 25000,
            'lowCents': 10000, 'highCents': 50000, 'regimeOdds': 120, 'jumpOdds': 150,
            'spikeOdds': 100, 'flats': [[220, 130]],
        },
        'windows': [5, 20, 100],
        'spans': [5, 20, 50, 100],
        'sample': None,
    },
    {
        'name': 'short-b',
        'generator': {
            'kind': 'xorshift32-walk-v1', 'seed': 7, 'length': 500, 'startCents': 10150,
            'lowCents': 10000, 'highCents': 50000, 'regimeOdds': 80, 'jumpOdds': 120,
            'spikeOdds': 90, 'flats': [[40, 25], [300, 101]],
        },
        'windows': [5, 20, 100],
        'spans': [5, 20, 100],
        'sample': None,
    },
    {
        'name': 'long',
        'generator': {
            'kind': 'xorshift32-walk-v1', 'seed': 987654321, 'length': 1_000_000, 'startCents': 30000,
            'lowCents': 10000, 'highCents': 50000, 'regimeOdds': 5000, 'jumpOdds': 20000,
            'spikeOdds': 4000, 'flats': [[100_000, 200], [612_345, 1000], [999_500, 150]],
        },
        'windows': [20, 100],
        'spans': [20, 100],
        # First 300, every 997th, last 300 indices: the fixture stays small.
        'sample': {'head': 300, 'every': 997, 'tail': 300},
    },
]


def generate(g):
    """Integer cents of one series. Five PRNG draws per tick, whatever happens, so the TS port
    (test/analytics/indicators.test.ts) stays in step with plain 32-bit integer arithmetic."""
    assert g['kind'] == 'xorshift32-walk-v1'
    x = g['seed'] & MASK32
    assert x != 0

    def draw():
        nonlocal x
        x ^= (x << 13) & MASK32
        x ^= x >> 17
        x ^= (x << 5) & MASK32
        return x

    flat = [False] * g['length']
    for start, length in g['flats']:
        for i in range(start, min(start + length, g['length'])):
            flat[i] = True
    lo, hi = g['lowCents'], g['highCents']
    cents = g['startCents']
    regime = 1  # 0 quiet, 1 normal, 2 wild
    out = np.empty(g['length'], dtype=np.int64)
    for i in range(g['length']):
        r1, r2, r3, r4, r5 = draw(), draw(), draw(), draw(), draw()
        if flat[i]:
            out[i] = cents  # the price repeats exactly: std 0, zero log returns
            continue
        if r2 % g['regimeOdds'] == 0:
            regime = r5 % 3
        if regime == 0:
            q = r1 % 16
            step = -1 if q == 0 else 1 if q == 1 else 0
        elif regime == 1:
            step = r1 % 21 - 10
        else:
            step = r1 % 101 - 50
        cents += step
        if r3 % g['jumpOdds'] == 0:  # a lasting jump of 3..10 %
            delta = cents * (3 + (r5 >> 4) % 8) // 100
            cents += delta if (r5 >> 8) & 1 else -delta
        if cents < lo:
            cents = 2 * lo - cents
        if cents > hi:
            cents = 2 * hi - cents
        tick = cents
        if r4 % g['spikeOdds'] == 0:  # a one-tick bad print of 2..7 %, the walk continues unchanged
            delta = cents * (2 + (r5 >> 12) % 6) // 100
            tick += delta if (r5 >> 16) & 1 else -delta
        out[i] = tick
    return out


def sample_indices(length, sample):
    if sample is None:
        return np.arange(length)
    idx = set(range(min(sample['head'], length)))
    idx.update(range(0, length, sample['every']))
    idx.update(range(max(0, length - sample['tail']), length))
    return np.array(sorted(idx))


def zscore_prev(s, n):
    """z of each price against the (up to) n prices before it; NaN with < 2 of them or std 0."""
    m = s.rolling(n, min_periods=2).mean().shift(1)
    d = s.rolling(n, min_periods=2).std().shift(1)
    return ((s - m) / d).where(d > 0)


def floats(values):
    return [None if math.isnan(v) else v for v in np.asarray(values, dtype=np.float64).tolist()]


def compute(spec, verbose):
    cents = generate(spec['generator'])
    prices = cents / 100.0  # correctly rounded, as cents / 100 in JS
    s = pd.Series(prices)
    idx = sample_indices(len(prices), spec['sample'])
    out = {
        'name': spec['name'],
        'generator': spec['generator'],
        'pandas': pd.__version__,
        'numpy': np.__version__,
        'zThreshold': Z_THRESHOLD,
        'minPoints': MIN_POINTS,
        'indices': None if spec['sample'] is None else idx.tolist(),
        'price': floats(prices[idx]),
        'ema': {},
        'windows': {},
    }
    for span in spec['spans']:
        out['ema'][str(span)] = {
            'recursive': floats(s.ewm(span=span, adjust=False).mean().to_numpy()[idx]),
            'adjusted': floats(s.ewm(span=span, adjust=True).mean().to_numpy()[idx]),
        }
    log_returns = np.log(s).diff()
    after_min_points = np.arange(len(s)) >= MIN_POINTS
    for n in spec['windows']:
        z = zscore_prev(s, n)
        values = {
            'sma': s.rolling(n).mean().to_numpy(),
            'priceStd': s.rolling(n).std().to_numpy(),
            'volatility': log_returns.rolling(n).std().to_numpy(),
            'zscore': z.to_numpy(),
        }
        exact = exact_values(cents, log_returns, n)
        if verbose:
            report(spec['name'], n, values, exact)
        w = {k: floats(v[idx]) for k, v in values.items()}
        for k, v in exact.items():
            w['exact' + k[0].upper() + k[1:]] = floats(v[idx])
        for key, zz in (('outlier', values['zscore']), ('exactOutlier', exact['zscore'])):
            flags = (np.abs(np.nan_to_num(zz, nan=0.0)) > Z_THRESHOLD) & after_min_points
            w[key] = flags[idx].astype(int).tolist()
        w['min'] = floats(s.rolling(n, min_periods=1).min().to_numpy()[idx])
        w['max'] = floats(s.rolling(n, min_periods=1).max().to_numpy()[idx])
        out['windows'][str(n)] = w
    return out


def exact_values(cents, log_returns, n):
    """Exact references over every index: SMA, price std and the z-score from integer arithmetic on
    the cents (one rounding at the end, a few for z), volatility from two passes over each window of
    log returns (mean, then the sum of squared deviations)."""
    length = len(cents)
    c = cents.astype(np.int64)
    c1 = np.concatenate([[0], np.cumsum(c)])
    c2 = np.concatenate([[0], np.cumsum(c * c)])
    out = {k: np.full(length, np.nan) for k in ('sma', 'priceStd', 'volatility', 'zscore')}
    i = np.arange(n - 1, length)
    s1 = c1[i + 1] - c1[i + 1 - n]
    d = n * (c2[i + 1] - c2[i + 1 - n]) - s1 * s1  # n (n - 1) var in cents², exact
    assert d.max() * n < 2**53  # so every product below is an exact double
    out['sma'][i] = s1 / (100.0 * n)
    out['priceStd'][i] = np.sqrt(d.astype(np.float64) / (n * (n - 1))) / 100.0
    # z-score of index j against the m = min(n, j) prices before it, for j >= 2
    j = np.arange(2, length)
    m = np.minimum(n, j)
    s1 = c1[j] - c1[j - m]
    d = m * (c2[j] - c2[j - m]) - s1 * s1
    num = (m * c[j] - s1).astype(np.float64)  # m (x - mean) in cents, exact
    with np.errstate(divide='ignore', invalid='ignore'):
        z = num / np.sqrt(m * d.astype(np.float64) / (m - 1))
    out['zscore'][j] = np.where(d > 0, z, np.nan)
    r = log_returns.to_numpy()
    for start in range(n, length, 50_000):
        stop = min(length, start + 50_000)
        win = np.lib.stride_tricks.sliding_window_view(r[start + 1 - n:stop], n)
        mu = win.mean(axis=1)
        out['volatility'][start:stop] = np.sqrt(((win - mu[:, None]) ** 2).sum(axis=1) / (n - 1))
    return out


ATOL = {'sma': 1e-12, 'priceStd': 1e-12, 'volatility': 1e-15, 'zscore': 1e-12}


def report(name, n, pandas_values, exact):
    """Prints, per metric, how many indices pandas is farther than 1e-9 (relative) from exact, and
    the worst one."""
    for metric, atol in ATOL.items():
        a, b = pandas_values[metric], exact[metric]
        if (np.isnan(a) != np.isnan(b)).any():
            k = int(np.argmax(np.isnan(a) != np.isnan(b)))
            print(f'  {name} N={n} {metric}: null mismatch at index {k}: pandas {a[k]!r}, exact {b[k]!r}',
                  file=sys.stderr)
            continue
        both = ~np.isnan(a)
        err = np.zeros(len(a))
        err[both] = np.abs(a[both] - b[both]) / (1e-9 * np.maximum(np.abs(a[both]), np.abs(b[both])) + atol)
        k = int(np.argmax(err))
        bad = int((err > 1).sum())
        print(f'  {name:<7} N={n:<3} {metric:<10} pandas beyond tolerance at {bad:>5} of {int(both.sum())}'
              f' indices; worst index {k}: pandas {a[k]!r}, exact {b[k]!r}', file=sys.stderr)


def write(spec, data, check):
    text = json.dumps(data, separators=(',', ':'), allow_nan=False).encode()
    blob = gzip.compress(text, compresslevel=9, mtime=0)
    path = OUT_DIR / f'indicators-{spec["name"]}.json.gz'
    if check:
        old = gzip.decompress(path.read_bytes()) if path.exists() else b''
        if old != text:
            print(f'{path.name} differs from a fresh computation', file=sys.stderr)
            return False
        print(f'{path.name} up to date', file=sys.stderr)
        return True
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    print(f'wrote {path.name}: {len(blob)} bytes gzip, {len(text)} bytes JSON', file=sys.stderr)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='compare with the committed fixtures')
    parser.add_argument('--no-report', action='store_true', help='skip the pandas-vs-exact report')
    args = parser.parse_args()
    ok = True
    for spec in SERIES:
        data = compute(spec, not args.no_report)
        ok = write(spec, data, args.check) and ok
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
