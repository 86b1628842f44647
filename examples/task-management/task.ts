/**
 * A task on a project's board: created, assigned, started, completed (or reopened). Each change
 * is an event of the task's stream; the rules below are what the board promises.
 */
import { AggregateRoot, type AppliedEvent, defineStream, type EventOfType, ValidationError } from "@eventflows/core";

export const TaskStream = defineStream("Task");

export type TaskEvent =
  | { type: "TaskCreated"; data: { taskId: string; title: string; createdBy: string } }
  | { type: "TaskRenamed"; data: { taskId: string; title: string } }
  | { type: "TaskAssigned"; data: { taskId: string; assignee: string; by: string } }
  | { type: "TaskStarted"; data: { taskId: string; by: string } }
  | { type: "TaskCompleted"; data: { taskId: string; by: string } }
  | { type: "TaskReopened"; data: { taskId: string; by: string } };

type Applied<Type extends TaskEvent["type"]> = AppliedEvent<EventOfType<TaskEvent, Type>>;

export type TaskStatus = "todo" | "in-progress" | "done";

export interface TaskState {
  readonly status: TaskStatus;
  readonly assignee: string | undefined;
}

/** A rule of the board said no: a 400 over HTTP, naming the task. */
const refused = (taskId: string, message: string) =>
  new ValidationError("Refused by the board", [{ path: ["taskId"], message: `task ${taskId} ${message}` }]);

export class Task extends AggregateRoot<TaskState, TaskEvent> {
  constructor(id: string) {
    super(id, { status: "todo", assignee: undefined });
  }

  create(title: string, createdBy: string): void {
    this.raise("TaskCreated", { taskId: this.id, title, createdBy });
  }

  rename(title: string): void {
    this.raise("TaskRenamed", { taskId: this.id, title });
  }

  assign(assignee: string, by: string): void {
    if (this.state.status === "done") throw refused(this.id, "is done: reopen it first");
    if (this.state.assignee !== assignee) this.raise("TaskAssigned", { taskId: this.id, assignee, by });
  }

  start(by: string): void {
    if (this.state.assignee === undefined) throw refused(this.id, "has no assignee");
    if (this.state.status !== "todo") throw refused(this.id, `is ${this.state.status}, not todo`);
    this.raise("TaskStarted", { taskId: this.id, by });
  }

  complete(by: string): void {
    if (this.state.status !== "in-progress") throw refused(this.id, `is ${this.state.status}, not in progress`);
    this.raise("TaskCompleted", { taskId: this.id, by });
  }

  reopen(by: string): void {
    if (this.state.status !== "done") throw refused(this.id, "is not done");
    this.raise("TaskReopened", { taskId: this.id, by });
  }

  protected onTaskCreated(): TaskState {
    return this.state;
  }

  protected onTaskRenamed(): TaskState {
    return this.state;
  }

  protected onTaskAssigned(event: Applied<"TaskAssigned">): TaskState {
    return { ...this.state, assignee: event.data.assignee };
  }

  protected onTaskStarted(): TaskState {
    return { ...this.state, status: "in-progress" };
  }

  protected onTaskCompleted(): TaskState {
    return { ...this.state, status: "done" };
  }

  protected onTaskReopened(): TaskState {
    return { ...this.state, status: "todo" };
  }
}
