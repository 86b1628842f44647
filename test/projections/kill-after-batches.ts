import { spawn } from "node:child_process";

/**
 * Runs a projection worker script (it prints a `batch …` line per committed batch) in a process of
 * its own, SIGKILLs it once it has reported `batches` batches, and resolves when it has exited. A
 * worker that exits by itself before that rejects with what it wrote to stderr.
 */
export async function killAfterBatches(script: string, args: readonly string[], batches = 3): Promise<void> {
  const worker = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  worker.stderr.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  let seen = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const early = (code: number | null) => reject(new Error(`worker exited early (${code}): ${stderr}`));
      worker.once("exit", early);
      worker.stdout.on("data", (chunk) => {
        seen += String(chunk)
          .split("\n")
          .filter((line) => line.startsWith("batch ")).length;
        if (seen >= batches) {
          worker.off("exit", early);
          resolve();
        }
      });
    });
  } finally {
    // Killed whether it got there or not: a failed wait must not leave the worker running.
    worker.kill("SIGKILL");
    await exited;
  }
}
