/** The board's rules, as Given-When-Then specifications of the Task aggregate. */
import { describe, test } from "bun:test";
import { aggregateSpec } from "@eventflows/core/testing";
import { Task, type TaskEvent } from "./task.js";

const task = aggregateSpec((id) => new Task(id), "t1");
const created = { type: "TaskCreated", data: { taskId: "t1", title: "Docs", createdBy: "ada" } } satisfies TaskEvent;
const assigned = { type: "TaskAssigned", data: { taskId: "t1", assignee: "grace", by: "ada" } } satisfies TaskEvent;
const started = { type: "TaskStarted", data: { taskId: "t1", by: "grace" } } satisfies TaskEvent;
const completed = { type: "TaskCompleted", data: { taskId: "t1", by: "grace" } } satisfies TaskEvent;

describe("Task", () => {
  test("an assigned task starts, then completes", async () => {
    await task
      .given([created, assigned])
      .when((t) => t.start("grace"))
      .thenEvents([started]);
    await task
      .given([created, assigned, started])
      .when((t) => t.complete("grace"))
      .thenEvents([completed]);
  });

  test("a task nobody is assigned cannot start", async () => {
    await task
      .given([created])
      .when((t) => t.start("ada"))
      .thenThrows((error) => error instanceof Error && error.message.includes("has no assignee"));
  });

  test("assigning the assignee again raises nothing; a done task must be reopened first", async () => {
    await task
      .given([created, assigned])
      .when((t) => t.assign("grace", "ada"))
      .thenEvents([]);
    await task
      .given([created, assigned, started, completed])
      .when((t) => t.assign("ada", "ada"))
      .thenThrows("VALIDATION_FAILED");
    await task
      .given([created, assigned, started, completed])
      .when((t) => t.reopen("ada"))
      .thenEvents([{ type: "TaskReopened", data: { taskId: "t1", by: "ada" } }]);
  });

  test("only a task in progress completes", async () => {
    await task
      .given([created, assigned])
      .when((t) => t.complete("grace"))
      .thenThrows((error) => error instanceof Error && error.message.includes("is todo, not in progress"));
  });
});
