/** Every subcommand: one file each, one line here. */
import type { Command } from '../command.ts'
import broker from './broker.ts'
import produce from './produce.ts'
import stats from './stats.ts'

export const commands: readonly Command[] = [broker, produce, stats]
