import type { EnvSource } from "../src/index.js";

/**
 * What a command may touch, handed in by bin/eventflows.js, so tests drive the commands in-process
 * with their own sinks and the logic stays independent of how the process was started.
 */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: EnvSource;
  /** The directory relative paths (`--dir`, `--file`) start from. */
  readonly cwd: string;
  /**
   * Writes to stderr as is (no newline added): the progress bar rewrites its line with `\r`.
   * Absent, progress is printed as whole lines through `stderr`.
   */
  readonly stderrRaw?: (text: string) => void;
  /** Whether stderr is a terminal: then progress is one line rewritten in place. */
  readonly stderrIsTty?: boolean;
}

/** The options every command takes. */
export interface CommonOptions {
  readonly json: boolean;
  readonly verbose: boolean;
}
