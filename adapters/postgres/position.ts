/**
 * Global positions are `transaction id << POSITION_BITS | n`, n counting the events of one
 * transaction from 1. PostgreSQL hands out transaction ids in increasing order, and a reader's
 * snapshot xmin is a bound below which every transaction has finished: so a reader that returns
 * only positions under `xmin << POSITION_BITS` never passes an event that commits later. Sequences
 * cannot promise that: a lower value can commit after a higher one has been read.
 */
export const POSITION_BITS = 12;
/** Events one transaction may append: n runs from 1 to this. */
export const MAX_EVENTS_PER_TRANSACTION = 2 ** POSITION_BITS - 1;
/** The highest version a stream can reach: `version` is an `integer` column. */
export const MAX_VERSION = 2 ** 31 - 1;
