/** The signals that stop a long run after the batch in hand: Ctrl-C, and what `kill`, systemd, Docker and Kubernetes send. */
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type StopSignal = keyof typeof SIGNALS;

let received: StopSignal | undefined;

/**
 * Runs `work` with an AbortSignal that the first Ctrl-C (SIGINT) or SIGTERM fires, so a long run stops
 * after the batch in hand, cleans up and says where it stopped; a second one exits at once (128 + its
 * number) for a run that hangs. The handlers are removed afterwards, so other commands keep Node's
 * default (exit on either signal).
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers = Object.keys(SIGNALS).map((name) => {
    const signal = name as StopSignal;
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(128 + SIGNALS[signal]);
      received = signal;
      controller.abort(new Error(`interrupted (${signal})`));
    };
    process.on(signal, onSignal);
    return () => process.off(signal, onSignal);
  });
  try {
    return await work(controller.signal);
  } finally {
    for (const remove of handlers) remove();
  }
}

/** The exit code of a run the last signal stopped: 130 after Ctrl-C (128 + SIGINT), 143 after SIGTERM. */
export function interruptedExitCode(): number {
  return 128 + SIGNALS[received ?? "SIGINT"];
}
