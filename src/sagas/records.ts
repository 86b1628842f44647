import type { SagaCommit, SagaRecord } from "./types.js";

/** The instance as it is, for a commit that changes only its status. */
export function carry(record: SagaRecord): SagaCommit {
  return {
    saga: record.saga,
    key: record.key,
    expectedVersion: record.version,
    state: record.state,
    status: record.status,
    step: record.step,
    compensations: record.compensations,
    attention: record.attention,
  };
}

/** Name, code and message: what an operator needs, without a stack or a payload. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === "string" ? ` (${code})` : ""}: ${error.message}`.slice(0, 2000);
  }
  return String(error).slice(0, 2000);
}
