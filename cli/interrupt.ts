/**
 * Runs `work` with an AbortSignal that the first Ctrl-C (SIGINT) fires, so a long run stops after
 * the batch in hand and cleans up; a second Ctrl-C exits at once (130) for a run that hangs. The
 * handler is removed afterwards, so other commands keep Node's default (exit on Ctrl-C).
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error("interrupted (SIGINT)"));
  };
  process.on("SIGINT", onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
  }
}
