/** Every subcommand: one file each, one line here. */
import type { Command } from '../command.ts'
import broker from './broker.ts'

export const commands: readonly Command[] = [broker]
