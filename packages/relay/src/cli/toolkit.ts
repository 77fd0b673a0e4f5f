/**
 * The pieces `factlib` commands are built from, for commands that live in other factlib packages
 * (`factlib dev` in `@factlib/dev`). Not a stable API for applications.
 */

export { formatBytes, formatRate, formatSeconds } from '../util/format.js'
export { type Command, parseFlags, UsageError } from './command.js'
export {
  type CommandFlag,
  commandFlags,
  configFlagHelp,
  configFlagOptions,
  stringFlags,
} from './config-flags.js'
export { RateMeter } from './relay-status-client.js'
