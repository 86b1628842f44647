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

/**
 * Name, code and message: what an operator needs, without a stack or a payload. U+0000, which no
 * saga store keeps in JSON, becomes U+FFFD, so that the instance can still be parked and the failure recorded.
 */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return keepable(`${error.name}${typeof code === "string" ? ` (${code})` : ""}: ${error.message}`.slice(0, 2000));
  }
  return keepable(String(error).slice(0, 2000));
}

const keepable = (text: string): string => (text.includes("\0") ? text.replaceAll("\0", "\ufffd") : text);
