/** What the poll needs of a store (structural: the store module imports this one through its subscriptions). */
interface FeedBound {
  getLastGlobalPosition(): Promise<number>;
}

/**
 * Polls the store's `getLastGlobalPosition()` (short pauses growing from 2 to 50 ms) until its feed
 * readers reach `target`, `deadline` (ms since the epoch) passes or `cancelled()` says to stop, and
 * returns the last position read: `>= target` when readable. At once on every store whose readers see
 * each committed event; on PostgreSQL they stop below transactions still in flight anywhere on the
 * server (anyone's), so an event that committed can stay unread while an older transaction is open.
 */
export async function readablePosition(
  store: FeedBound,
  target: number,
  deadline: number,
  cancelled: () => boolean = () => false,
): Promise<number> {
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    const readable = await store.getLastGlobalPosition();
    if (readable >= target || cancelled() || Date.now() >= deadline) return readable;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
