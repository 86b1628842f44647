/**
 * The longest pause before a connection is opened again, in ms, whatever postgres.js's count of
 * failed connections says; a quarter of `connect_timeout` when that is shorter.
 */
export const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * The pause (in seconds, as postgres.js's `backoff` option returns it) before a lost or failed
 * connection is opened again: postgres.js's own growth, a random 50-100 % of 3^retries/100 s, capped
 * at {@link MAX_RECONNECT_DELAY_MS} or a quarter of `connect_timeout` (seconds; 0 or absent: none).
 *
 * Why the cap: postgres.js 3.4 counts connections lost with an error in one counter per client and
 * resets it only when a connection opened for a statement or a transaction completes its startup;
 * with `fetch_types` on (its default), one opened for `sql.reserve()` (every `tenantScopedSql`
 * statement) never resets it. On a client used that way, each such loss makes the next reconnect
 * wait 3 times longer, for good: after about 7 the wait passes `connect_timeout` and statements
 * fail with CONNECT_TIMEOUT while the server is up. Capped, a server that stays down is still tried less and less often, up to one
 * attempt a second per connection, and a statement waiting for a connection sees at least four
 * attempts within its `connect_timeout`.
 */
export function reconnectBackoff(connectTimeoutSeconds: number | undefined): (retries: number) => number {
  const timeoutMs =
    typeof connectTimeoutSeconds === "number" && Number.isFinite(connectTimeoutSeconds) && connectTimeoutSeconds > 0
      ? connectTimeoutSeconds * 1000
      : Number.POSITIVE_INFINITY;
  const capSeconds = Math.min(MAX_RECONNECT_DELAY_MS, timeoutMs / 4) / 1000;
  return (retries) => (0.5 + Math.random() / 2) * Math.min(3 ** Math.max(0, retries) / 100, capSeconds);
}
