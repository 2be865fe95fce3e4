/** Every subcommand: one file each, one line here. */
import type { Command } from '../command.ts'
import analyze from './analyze.ts'
import archive from './archive.ts'
import broker from './broker.ts'
import exchange from './exchange.ts'
import produce from './produce.ts'
import query from './query.ts'
import replay from './replay.ts'
import stats from './stats.ts'
import tail from './tail.ts'
import topics from './topics.ts'
import up from './up.ts'

export const commands: readonly Command[] = [
  up,
  broker,
  produce,
  replay,
  analyze,
  exchange,
  archive,
  query,
  stats,
  topics,
  tail,
]
