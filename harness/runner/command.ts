/**
 * The runner's view of a step's probe command: built from the op table
 * (harness/ops/), where each op says how it formats its line.
 */
export { CommandError, targetAddress, unixPath } from '../ops/format.js'
export type { CommandContext } from '../ops/format.js'
export { buildCommand, primaryOp, stepLimitMs } from '../ops/table.js'
