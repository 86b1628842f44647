/**
 * The commands and queries of one project's board, their handlers and their valibot schemas (which
 * validate requests and make the OpenAPI document). Queries first bring the board up to date, so a
 * caller reads its own writes (on PostgreSQL, within OWN_WRITES_WAIT_MS of an older transaction
 * still in flight).
 */
import {
  AggregateRepository,
  CommandBus,
  ConcurrencyError,
  type EventStore,
  eventMetadataFor,
  type Message,
  type ProjectionRunner,
  QueryBus,
  type ReadModelStore,
  StreamNotFoundError,
  ulid,
  ValidationError,
} from "@eventflows/core";
import * as v from "valibot";
import { type Board, EMPTY_BOARD, type TaskCard } from "./board.js";
import { Task, TaskStream } from "./task.js";

type Changed = { version: number };
export type TaskCommands = {
  CreateTask: { payload: { title: string }; result: { taskId: string; version: number } };
  RenameTask: { payload: { taskId: string; title: string; expectedVersion: number }; result: Changed };
  AssignTask: { payload: { taskId: string; assignee: string }; result: Changed };
  StartTask: { payload: { taskId: string }; result: Changed };
  CompleteTask: { payload: { taskId: string }; result: Changed };
  ReopenTask: { payload: { taskId: string }; result: Changed };
};
export type TaskQueries = {
  GetBoard: { payload: Record<string, never>; result: Board };
  GetTask: { payload: { taskId: string }; result: TaskCard };
};

const taskId = v.pipe(v.string(), v.ulid());
// Event data may not hold U+0000 (no store can), so the schema refuses it: the OpenAPI document then
// says so too, rather than the store refusing, after the handler ran, a request the document allowed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing it is the point
const noNul = v.regex(/^[^\u0000]*$/, "no U+0000 (NUL): the stores cannot hold it");
const title = v.pipe(v.string(), v.trim(), noNul, v.minLength(1), v.maxLength(200));

export const commandSchemas = {
  CreateTask: v.object({ title }),
  RenameTask: v.object({ taskId, title, expectedVersion: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
  AssignTask: v.object({ taskId, assignee: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,31}$/, "a user id")) }),
  StartTask: v.object({ taskId }),
  CompleteTask: v.object({ taskId }),
  ReopenTask: v.object({ taskId }),
};
export const querySchemas = { GetBoard: v.object({}), GetTask: v.object({ taskId }) };

export interface BoardStores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /** The board's projection runner: `catchUp()` applies what the feed holds beyond its checkpoint. */
  readonly board: Pick<ProjectionRunner, "catchUp" | "lag">;
}

/**
 * The tasks a project holds: its board is one document, and a card of a 200-character title is about
 * 700 bytes of JSON, so 1,000 stay far under the 2 MB a Durable Object's document may be.
 */
export const MAX_TASKS = 1_000;

/** How long a query waits for the board to reach the writes that returned before it; then it answers as it stands. */
export const OWN_WRITES_WAIT_MS = 2_000;

export function boardBuses({ eventStore, readModels, board }: BoardStores) {
  const tasks = new AggregateRepository({ store: eventStore, stream: TaskStream, create: (id) => new Task(id) });
  const commands = new CommandBus<TaskCommands>();
  const queries = new QueryBus<TaskQueries>();
  const user = (message: Message) => String(message.metadata.userId);
  /** Load, decide, save; retried on a concurrent change to the same task. */
  const change = async (id: string, message: Message, decide: (task: Task) => void): Promise<Changed> => {
    const { appended } = await tasks.update(id, decide, { metadata: eventMetadataFor(message) });
    return { version: appended.nextExpectedVersion };
  };

  /**
   * The board with every write that returned before the query: caught up to the feed's head as it
   * is now. One catch-up does on SQLite; on PostgreSQL the feed's readers wait behind older
   * transactions still in flight (and another request may hold the board's lease), so it tries
   * again for up to OWN_WRITES_WAIT_MS.
   */
  const currentBoard = async (): Promise<Board> => {
    const head = await eventStore.getHeadPosition();
    const deadline = Date.now() + OWN_WRITES_WAIT_MS;
    for (;;) {
      const position = (await board.catchUp())?.position ?? (await board.lag()).position;
      if (position >= head || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return (await readModels.get<Board>("board", "board")) ?? EMPTY_BOARD;
  };

  commands.register("CreateTask", async ({ title }, message) => {
    // Counted on the board caught up first, as a query catches it up: counted on the board as it stood,
    // the bound held only after someone had queried, and 3,000 creates in a row all passed (outside
    // audit). Creates running at once may still pass it by a few, far under what a store holds. Without
    // a bound, the board outgrew a Durable Object's 2 MB at some 2,700 tasks, its projection stopped,
    // and every query answered 500.
    const board = await currentBoard();
    if (Object.keys(board.tasks).length >= MAX_TASKS) {
      throw new ValidationError("A project holds at most 1,000 tasks", [
        { path: [], message: `this example's board is one document per project: ${MAX_TASKS} tasks at most` },
      ]);
    }
    const task = new Task(ulid());
    task.create(title, user(message));
    const appended = await tasks.save(task, { metadata: eventMetadataFor(message) });
    return { taskId: task.id, version: appended.nextExpectedVersion };
  });
  // An edit of what the caller saw: refused with a 409 when the task changed since.
  commands.register("RenameTask", async ({ taskId, title, expectedVersion }, message) => {
    const task = await tasks.load(taskId);
    if (task.version !== expectedVersion) {
      throw new ConcurrencyError(TaskStream.name(taskId), expectedVersion, task.version);
    }
    task.rename(title);
    const appended = await tasks.save(task, { metadata: eventMetadataFor(message) });
    return { version: appended.nextExpectedVersion };
  });
  commands.register("AssignTask", ({ taskId, assignee }, m) => change(taskId, m, (t) => t.assign(assignee, user(m))));
  commands.register("StartTask", ({ taskId }, m) => change(taskId, m, (t) => t.start(user(m))));
  commands.register("CompleteTask", ({ taskId }, m) => change(taskId, m, (t) => t.complete(user(m))));
  commands.register("ReopenTask", ({ taskId }, m) => change(taskId, m, (t) => t.reopen(user(m))));

  queries.register("GetBoard", currentBoard);
  queries.register("GetTask", async ({ taskId }) => {
    const card = (await currentBoard()).tasks[taskId];
    if (card === undefined) throw new StreamNotFoundError(TaskStream.name(taskId));
    return card;
  });
  return { commands, queries };
}
