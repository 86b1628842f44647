/**
 * The EventBridge shapes this adapter reads and writes, typed from AWS's API reference (PutEvents)
 * and the user guide ("Amazon EventBridge events").
 */

/** One entry of a PutEvents request. */
export interface PutEventsRequestEntry {
  readonly Source: string;
  readonly DetailType: string;
  /** A JSON object, as text. */
  readonly Detail: string;
  readonly EventBusName?: string;
  /** Epoch seconds. */
  readonly Time?: number;
  readonly Resources?: readonly string[];
  /** An AWS X-Ray trace header. */
  readonly TraceHeader?: string;
}

/** One entry of a PutEvents response, in request order: an `EventId`, or an error. */
export interface PutEventsResultEntry {
  readonly EventId?: string;
  readonly ErrorCode?: string;
  readonly ErrorMessage?: string;
}

export interface PutEventsResponse {
  readonly FailedEntryCount?: number;
  readonly Entries?: readonly PutEventsResultEntry[];
}

/** An event as EventBridge delivers it to a target (an SQS queue's message body, for one). */
export interface EventBridgeEvent<Detail = unknown> {
  readonly version: string;
  readonly id: string;
  readonly "detail-type": string;
  readonly source: string;
  readonly account: string;
  /** ISO-8601, to the second. */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Detail;
}
