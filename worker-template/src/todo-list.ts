/**
 * The template's domain: a to-do list. An event-sourced aggregate: every change is an event in the
 * list's stream (`TodoList-<ULID>`), and the state is what those events add up to. Replace it with
 * your own aggregates; the wiring in todo-api.ts and index.ts stays the same.
 */
import { AggregateRoot, defineStream, type EventHandlerMap, ValidationError } from "@eventflows/core";

export const TodoListStream = defineStream("TodoList");

/** A list holds at most this many to-dos: a stream that grows without bound is slow to load. */
export const MAX_TODOS = 100;

export type TodoListEvent =
  | { type: "TodoListCreated"; data: { title: string } }
  | { type: "TodoAdded"; data: { todoId: number; text: string } }
  | { type: "TodoCompleted"; data: { todoId: number } };

export interface Todo {
  readonly todoId: number;
  readonly text: string;
  readonly done: boolean;
}

export interface TodoListState {
  readonly title: string;
  readonly todos: readonly Todo[];
}

// Evolution: how each event changes the state. Never throws: it replays what already happened.
const evolve: EventHandlerMap<TodoListState, TodoListEvent> = {
  TodoListCreated: (state, event) => ({ ...state, title: event.data.title }),
  TodoAdded: (state, event) => ({
    ...state,
    todos: [...state.todos, { todoId: event.data.todoId, text: event.data.text, done: false }],
  }),
  TodoCompleted: (state, event) => ({
    ...state,
    todos: state.todos.map((todo) => (todo.todoId === event.data.todoId ? { ...todo, done: true } : todo)),
  }),
};

export class TodoList extends AggregateRoot<TodoListState, TodoListEvent> {
  constructor(id: string) {
    super(id, { title: "", todos: [] });
  }

  protected override get handlers(): EventHandlerMap<TodoListState, TodoListEvent> {
    return evolve;
  }

  // Decisions: check the rules against the state, then raise what happened.

  create(title: string): void {
    this.raise("TodoListCreated", { title });
  }

  /** Adds a to-do and returns its number in the list (1, 2, …). */
  add(text: string): number {
    if (this.state.todos.length >= MAX_TODOS) {
      throw new ValidationError("The list is full", [
        { path: ["listId"], message: `a list holds at most ${MAX_TODOS} to-dos` },
      ]);
    }
    const todoId = this.state.todos.length + 1;
    this.raise("TodoAdded", { todoId, text });
    return todoId;
  }

  /** Completing a done to-do again changes nothing (no event), so retries are harmless. */
  complete(todoId: number): void {
    const todo = this.state.todos.find((candidate) => candidate.todoId === todoId);
    if (todo === undefined) {
      // Bad input (400), like the schema's refusals: the list exists, the to-do the command names does not.
      throw new ValidationError("No such to-do", [{ path: ["todoId"], message: `the list has no to-do ${todoId}` }]);
    }
    if (!todo.done) this.raise("TodoCompleted", { todoId });
  }
}
