/**
 * The board read model: one document per project (each project is a Durable Object with a
 * database of its own), the tasks by id with their column and assignee, kept by a projection over
 * the object's global feed.
 */
import { type EnvelopeOf, projection } from "@eventflows/core";
import type { TaskEvent, TaskStatus } from "./task.js";

export interface TaskCard {
  readonly taskId: string;
  readonly title: string;
  readonly status: TaskStatus;
  readonly assignee: string | null;
  /** The task stream's version: send it back as `expectedVersion` to edit what you saw. */
  readonly version: number;
}

export interface Board {
  readonly tasks: Readonly<Record<string, TaskCard>>;
  readonly counts: Readonly<Record<TaskStatus, number>>;
}

export const EMPTY_BOARD: Board = { tasks: {}, counts: { todo: 0, "in-progress": 0, done: 0 } };

export const boardProjection = projection<EnvelopeOf<TaskEvent>, undefined>({
  name: "board",
  categories: ["Task"],
  types: ["TaskCreated", "TaskRenamed", "TaskAssigned", "TaskStarted", "TaskCompleted", "TaskReopened"],
  prefetch: () => ["board", "board"],
  handle: async (event, { readModels }) => {
    const board = (await readModels.get<Board>("board", "board")) ?? EMPTY_BOARD;
    const { taskId } = event.data;
    const card = board.tasks[taskId];
    const next = nextCard(card, event);
    if (next === undefined) return;
    const counts = { ...board.counts };
    if (card !== undefined) counts[card.status] -= 1;
    counts[next.status] += 1;
    await readModels.put("board", "board", { tasks: { ...board.tasks, [taskId]: next }, counts } satisfies Board);
  },
});

function nextCard(card: TaskCard | undefined, event: EnvelopeOf<TaskEvent>): TaskCard | undefined {
  const { version } = event;
  if (event.type === "TaskCreated") {
    const { taskId, title } = event.data;
    return { taskId, title, status: "todo", assignee: null, version };
  }
  if (card === undefined) return undefined;
  switch (event.type) {
    case "TaskRenamed":
      return { ...card, title: event.data.title, version };
    case "TaskAssigned":
      return { ...card, assignee: event.data.assignee, version };
    case "TaskStarted":
      return { ...card, status: "in-progress", version };
    case "TaskCompleted":
      return { ...card, status: "done", version };
    case "TaskReopened":
      return { ...card, status: "todo", version };
  }
}
