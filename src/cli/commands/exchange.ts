/**
 * `tickflow exchange`: the matching engine as a stream processor — `orders` in; `trades`,
 * `order-events`, `book`, `pnl` and `trade-stats` out, exactly once — as one member of its
 * consumer group. Orders are partitioned by instrument, so members split the instruments.
 */
import { ErrorCodes, TickflowError } from '../../errors.ts'
import type { InstrumentSpec } from '../../exchange/exchange.ts'
import { COST_METHODS, type CostMethod } from '../../exchange/pnl.ts'
import { SELF_TRADE_MODES, type SelfTradePrevention } from '../../exchange/types.ts'
import { DEFAULT_EXCHANGE_CONFIG, exchangeProcessor, type ExchangeConfig } from '../../stream/exchange.ts'
import { defineCommand, intOption } from '../command.ts'
import { CONFIG_OPTION, loadConfig, type TickflowConfig } from '../config-file.ts'
import { processorOptions, runProcessorCommand } from '../processor-command.ts'
import { formatCount } from '../progress.ts'

export default defineCommand({
  name: 'exchange',
  summary: 'Match orders into trades, book updates and traders’ P&L, exactly once (Ctrl-C to stop).',
  usage: 'tickflow exchange [--instruments A,B] [--tick-size T] [--pnl fifo|average] [--group ID]',
  options: {
    input: { type: 'string', value: 'TOPIC', default: 'orders', description: 'The order topic to read' },
    instruments: {
      type: 'string',
      value: 'LIST',
      description: 'The only instruments traded (others are rejected); default: any instrument',
    },
    'tick-size': { type: 'string', value: 'T', default: '0.01', description: 'Price increment of every instrument' },
    'lot-size': { type: 'string', value: 'L', default: '1', description: 'Quantity increment of every instrument' },
    'self-trade': {
      type: 'string',
      value: 'MODE',
      default: 'expire-taker',
      description: `Self-trade prevention: ${SELF_TRADE_MODES.join(', ')}`,
    },
    pnl: { type: 'string', value: 'METHOD', default: 'fifo', description: 'Realized P&L by fifo or average cost' },
    'maker-fee-bps': {
      type: 'string',
      value: 'BPS',
      default: '0',
      description: 'Fee of the resting side, basis points',
    },
    'taker-fee-bps': { type: 'string', value: 'BPS', default: '0', description: 'Fee of the aggressor, basis points' },
    'stats-window': {
      type: 'string',
      value: 'N',
      default: '20',
      description: 'Trades in the SMA and VWAP of trade-stats',
    },
    depth: { type: 'string', value: 'N', default: '10', description: 'Levels per side in each book record' },
    ...CONFIG_OPTION,
    ...processorOptions('exchange'),
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `unexpected argument ${positionals[0]}`)
    }
    const config = exchangeConfigFromOptions(values, loadConfig(values.config as string | undefined))
    const { stats, seconds } = await runProcessorCommand(
      exchangeProcessor(config),
      values,
      io,
      (st) =>
        `exchange: ${formatCount(st.processed)} orders, partitions [${st.assigned.join(',')}] (generation ${st.generation})`,
    )
    io.out(`matched ${formatCount(stats.processed)} orders in ${seconds.toFixed(1)} s`)
    return 0
  },
})

/**
 * The exchange settings from command-line values and the config file's tick and lot sizes per
 * instrument (shared with `up`). `--instruments` names the only instruments traded; without it any
 * instrument is, with the sizes of the config file when it lists it, else `--tick-size` and
 * `--lot-size`.
 */
export function exchangeConfigFromOptions(
  values: Record<string, string | boolean | undefined>,
  file?: TickflowConfig,
): ExchangeConfig {
  const positive = (name: string, fallback: string): number => {
    const text = (values[name] as string | undefined) ?? fallback
    const n = Number(text)
    if (!(n > 0) || !Number.isFinite(n)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--${name} must be a positive number, got ${text}`)
    }
    return n
  }
  const fee = (name: string): number => {
    const text = (values[name] as string | undefined) ?? '0'
    const n = Number(text)
    if (!(n >= 0) || !Number.isFinite(n) || text.trim() === '') {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `--${name} must be a number of basis points >= 0, got ${text}`,
      )
    }
    return n / 10_000
  }
  const spec: InstrumentSpec = { tickSize: positive('tick-size', '0.01'), lotSize: positive('lot-size', '1') }
  const selfTrade = (values['self-trade'] as string | undefined) ?? 'expire-taker'
  if (!SELF_TRADE_MODES.includes(selfTrade as SelfTradePrevention)) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `--self-trade must be one of ${SELF_TRADE_MODES.join(', ')}, got ${selfTrade}`,
    )
  }
  const pnl = (values.pnl as string | undefined) ?? 'fifo'
  if (!COST_METHODS.includes(pnl as CostMethod)) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--pnl must be fifo or average, got ${pnl}`)
  }
  const listed = file?.exchange.instruments
  const list = values.instruments as string | undefined
  const names = list === undefined ? undefined : list.split(',').map((s) => s.trim())
  if (names !== undefined && (names.length === 0 || names.some((n) => n === ''))) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--instruments must be names separated by commas, got ${list}`)
  }
  return {
    ...DEFAULT_EXCHANGE_CONFIG,
    input: (values.input as string | undefined) ?? 'orders',
    exchange: {
      instruments:
        names === undefined
          ? listed
          : Object.fromEntries(
              names.map((n) => [n, listed !== undefined && Object.hasOwn(listed, n) ? listed[n] : spec]),
            ),
      anyInstrument: names === undefined ? spec : undefined,
      selfTrade: selfTrade as SelfTradePrevention,
      pnl: pnl as CostMethod,
      makerFee: fee('maker-fee-bps'),
      takerFee: fee('taker-fee-bps'),
      statsWindow: intOption('stats-window', values['stats-window'], 1) ?? 20,
    },
    depthLevels: intOption('depth', values.depth, 1) ?? 10,
  }
}
