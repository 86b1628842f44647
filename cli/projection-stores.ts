import type { EventEnvelope, EventStore, ReadAllOptions, ReadModelStore, ReadStreamOptions } from "../src/index.js";
import { CliUsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { checkInput, dynamoDbClient, type StoreValues, withPostgres, withSqlite } from "./stores.js";

/** The event store and the read-model store beside it, opened from the options `migrate` and `stats` take. */
export interface ProjectionStores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
}

/**
 * Opens both stores on one database (PostgreSQL by the URL rules of `migrate`, or a SQLite file
 * that must exist), runs `work`, and closes the connection however `work` ends.
 */
export function withProjectionStores<T>(
  command: string,
  store: "postgres" | "sqlite" | "dynamodb",
  values: StoreValues,
  io: CliIo,
  work: (stores: ProjectionStores) => Promise<T>,
): Promise<T> {
  if (store === "dynamodb") return withDynamoDb(command, values, io, work);
  if (store === "postgres") {
    const names = { schema: values.schema, tablePrefix: values.prefix };
    return withPostgres(
      command,
      values,
      io,
      (pg, sql) =>
        work({
          eventStore: new pg.PostgresEventStore({ sql, ...names }),
          readModels: new pg.PostgresReadModelStore({ sql, ...names }),
        }),
      2,
    );
  }
  return withSqlite(command, values, io, false, (sqlite, driver) =>
    work({
      eventStore: turnsTheLoop(sqlite.createSqliteEventStore({ driver, tablePrefix: values.prefix })),
      readModels: new sqlite.SqliteReadModelStore({ driver, tablePrefix: values.prefix }),
    }),
  );
}

/** Both stores on one DynamoDB table (`--table`), the client configured from the environment (AWS_*). */
async function withDynamoDb<T>(
  command: string,
  values: StoreValues,
  io: CliIo,
  work: (stores: ProjectionStores) => Promise<T>,
): Promise<T> {
  // Left out, it is missing (as migrate and import say), not a name of 0 characters that breaks the naming rules.
  if ((values.table ?? "") === "") throw new CliUsageError("The dynamodb store needs --table <name>", command);
  const dynamodb = await import("../adapters/dynamodb/index.js");
  const layout = { tableName: values.table ?? "", partitionKey: values["partition-key"], sortKey: values["sort-key"] };
  checkInput(command, () => dynamodb.tableLayout(layout));
  const client = await dynamoDbClient(io);
  return work({
    eventStore: new dynamodb.DynamoDbEventStore({ client, ...layout }),
    readModels: new dynamodb.DynamoDbReadModelStore({ client, ...layout }),
  });
}

/**
 * bun:sqlite and node:sqlite answer synchronously, so a rebuild or replay over SQLite never leaves the
 * microtask queue, and Node runs the SIGINT and SIGTERM handlers (which fire the run's AbortSignal) only
 * from the event loop: Ctrl-C waited for the run's end. Each read of the feed or a stream (one a batch)
 * first lets the loop turn once.
 */
function turnsTheLoop(store: EventStore): EventStore {
  const readAll = store.readAll.bind(store);
  const readStream = store.readStream.bind(store);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  store.readAll = async function* <E extends EventEnvelope>(options?: ReadAllOptions) {
    await turn();
    yield* readAll<E>(options);
  };
  store.readStream = async function* <E extends EventEnvelope>(streamId: string, options?: ReadStreamOptions) {
    await turn();
    yield* readStream<E>(streamId, options);
  };
  return store;
}
