/**
 * The commands and queries the Worker serves: their types, the valibot schemas that validate them
 * over HTTP (and document them in /openapi.json), and the handlers on a command and a query bus.
 */
import {
  AggregateRepository,
  CommandBus,
  type EventStore,
  eventMetadataFor,
  type Message,
  QueryBus,
  ulid,
} from "@eventflows/core";
import * as v from "valibot";
import { type Todo, TodoList, TodoListStream } from "./todo-list.js";

export interface TodoListView {
  readonly listId: string;
  readonly title: string;
  readonly todos: readonly Todo[];
  /** The stream's version: how many events the list has. */
  readonly version: number;
}

export type TodoCommands = {
  CreateList: { payload: { title: string }; result: { listId: string; version: number } };
  AddTodo: { payload: { listId: string; text: string }; result: { todoId: number; version: number } };
  CompleteTodo: { payload: { listId: string; todoId: number }; result: { version: number } };
};

export type TodoQueries = {
  GetList: { payload: { listId: string }; result: TodoListView };
};

// Stream names are case-sensitive and ULIDs are not: one spelling, so one list has one stream.
const ListId = v.pipe(v.string(), v.ulid(), v.toUpperCase());
// Event data may not hold U+0000 (no store can), so the schema refuses it: the OpenAPI document then says so
// too, rather than the store refusing, after the handler ran, a request the document allowed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing it is the point
const NoNul = v.regex(/^[^\u0000]*$/, "no U+0000 (NUL): the stores cannot hold it");
const Text = (max: number) => v.pipe(v.string(), v.trim(), NoNul, v.minLength(1), v.maxLength(max));

export const commandSchemas = {
  CreateList: {
    input: v.object({ title: Text(100) }),
    output: v.object({ listId: v.string(), version: v.number() }),
    summary: "Create a to-do list",
  },
  AddTodo: {
    input: v.object({ listId: ListId, text: Text(200) }),
    output: v.object({ todoId: v.number(), version: v.number() }),
    summary: "Add a to-do to a list",
  },
  CompleteTodo: {
    input: v.object({ listId: ListId, todoId: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
    output: v.object({ version: v.number() }),
    summary: "Mark a to-do done (again is a no-op)",
  },
};

export const querySchemas = {
  GetList: {
    input: v.object({ listId: ListId }),
    output: v.object({
      listId: v.string(),
      title: v.string(),
      todos: v.array(v.object({ todoId: v.number(), text: v.string(), done: v.boolean() })),
      version: v.number(),
    }),
    summary: "Read a to-do list",
  },
};

export interface TodoBuses {
  readonly commands: CommandBus<TodoCommands>;
  readonly queries: QueryBus<TodoQueries>;
}

/** The buses over one store. Cheap to build: a few map entries, no I/O. */
export function todoBuses(store: EventStore): TodoBuses {
  const lists = new AggregateRepository<TodoList>({
    store,
    stream: TodoListStream,
    create: (id) => new TodoList(id),
  });
  // The request's correlation id (and the command's id as causation) on every event it causes.
  const saveOptions = (message: Message) => ({ metadata: eventMetadataFor(message) });

  const commands = new CommandBus<TodoCommands>();
  commands.register("CreateList", async ({ title }, message) => {
    const list = new TodoList(ulid());
    list.create(title);
    const { nextExpectedVersion } = await lists.save(list, saveOptions(message));
    return { listId: list.id, version: nextExpectedVersion };
  });
  // `update` reloads and decides again when another request changed the list in between.
  commands.register("AddTodo", async ({ listId, text }, message) => {
    const { result, appended } = await lists.update(listId, (list) => list.add(text), saveOptions(message));
    return { todoId: result, version: appended.nextExpectedVersion };
  });
  commands.register("CompleteTodo", async ({ listId, todoId }, message) => {
    const { appended } = await lists.update(listId, (list) => list.complete(todoId), saveOptions(message));
    return { version: appended.nextExpectedVersion };
  });

  const queries = new QueryBus<TodoQueries>();
  queries.register("GetList", async ({ listId }) => {
    const list = await lists.load(listId);
    const { title, todos } = list.currentState;
    return { listId, title, todos, version: list.version };
  });
  return { commands, queries };
}
