/**
 * @module @eventflows/core/testing: contract suites for adapter authors, Given-When-Then helpers and
 * framework-free assertions. Web-standard only, so suites run in Workers too.
 */
export { AssertionError, assert, assertEqual, assertRejects, collect, eventually } from "./assert.js";
export { type CheckpointStoreContractOptions, checkpointStoreContract } from "./checkpoint-store-contract.js";
export type { CaseResult, ContractCase, ContractSuite, TestFramework } from "./contract.js";
export { registerContract, runContract } from "./contract.js";
export {
  type DedupStoreContractOptions,
  type DedupStoreContractSettings,
  dedupStoreContract,
} from "./dedup-store-contract.js";
export { type EventBusContractOptions, eventBusContract, testEnvelope } from "./event-bus-contract.js";
export { type EventEvolutionContractOptions, eventEvolutionContract } from "./event-evolution-contract.js";
export { type EventStoreContractOptions, eventStoreContract, type HeldCommit } from "./event-store-contract.js";
export { type CartEvent, cartHistoryV1, cartRegistry, EvolvedCart } from "./evolution-fixture.js";
export { untilHeadReadable, untilReadable } from "./feed.js";
export { aggregateSpec, commandSpec, type ErrorExpectation, type GivenEvent } from "./given-when-then.js";
export { holdCommitIn, type TransactionAppender } from "./hold-commit.js";
export {
  type IdempotencyStoreContractOptions,
  type IdempotencyStoreContractSettings,
  idempotencyStoreContract,
} from "./idempotency-store-contract.js";
export { type LoggerContractOptions, loggerContract } from "./logger-contract.js";
export {
  type ProjectionContractOptions,
  type ProjectionFixture,
  projectionContract,
} from "./projection-contract.js";
export {
  type RemoteBusContractOptions,
  type RemoteBusRoute,
  type RemoteBusRouteSettings,
  remoteBusContract,
  type SentRequest,
} from "./remote-bus-contract.js";
export {
  type SagaStoreContractOptions,
  type SagaStoreContractSettings,
  sagaStoreContract,
} from "./saga-store-contract.js";
export { type SnapshotStoreContractOptions, snapshotStoreContract } from "./snapshot-store-contract.js";
export { StoreView } from "./store-view.js";
export { type StreamDeletionContractOptions, streamDeletionContract } from "./stream-deletion-contract.js";
export {
  type SubjectKeyStoreContractOptions,
  type SubjectKeyStoreContractSettings,
  subjectKeyStoreContract,
} from "./subject-key-store-contract.js";
export {
  type IsolatedStores,
  type TenantIsolationContractOptions,
  tenantIsolationContract,
} from "./tenant-isolation-contract.js";
