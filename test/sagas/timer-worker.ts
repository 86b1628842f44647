/**
 * A Worker with both saga timer drivers, bundled and run in workerd by
 * test/sagas/timer-drivers.int.test.ts: a Durable Object (`SagaTimer`) whose alarm fires the
 * timeouts of its own runtime (`SagaAlarmDriver`), and a Cron Trigger (`sagaCronHandler`) over
 * another. Each runtime keeps its instances in an InMemorySagaStore of its isolate: enough to show
 * the drivers fire what is due; production shares a PostgreSQL or DynamoDB store.
 *   /do/arm?id=&after=   start an instance whose timeout is due `after` ms later, and wake the object
 *   /do/state            what the object fired (with lateness), and what happened to its alarm, in order:
 *                        each alarm set (the time it was set to), each alarm run, each timeout fired
 *   /cron/arm?id=&after= the same on the cron's runtime;  /cron/state  what the cron fired
 */
import {
  CommandBus,
  defineSaga,
  type FiredTimeoutReport,
  InMemorySagaStore,
  SagaAlarmDriver,
  SagaRuntime,
  sagaCronHandler,
} from "@eventflows/core";

type Armed = { type: "Armed"; data: { id: string; after: number } };

const timer = defineSaga<Armed, object>({
  name: "Timer",
  startedBy: ["Armed"],
  correlate: (event) => event.data.id,
  initialState: {},
  on: {
    Armed: (state, event, ctx) => {
      ctx.schedule({ after: event.data.after, name: "due" });
      return state;
    },
  },
  onTimeout: {
    due: (state, _fired, ctx) => {
      ctx.complete();
      return state;
    },
  },
});

function runtimeRecording(fired: FiredTimeoutReport[], log?: AlarmLogEntry[]): SagaRuntime {
  return new SagaRuntime({
    store: new InMemorySagaStore(),
    commands: new CommandBus(),
    sagas: [timer],
    onTimeoutFired: (report) => {
      fired.push(report);
      log?.push({ fired: report.key });
    },
  });
}

/** What happened to the object's alarm: the test reads the order, and compares the times set with the due times. */
export type AlarmLogEntry = { readonly set: number } | { readonly alarm: true } | { readonly fired: string };

function armed(url: URL) {
  const id = url.searchParams.get("id") ?? "";
  return {
    id: `armed-${id}`,
    type: "Armed",
    streamId: `Timer-${id}`,
    version: 1,
    timestamp: new Date().toISOString(),
    data: { id, after: Number(url.searchParams.get("after") ?? "0") },
    metadata: {},
  };
}

interface DurableObjectStateLike {
  readonly storage: { getAlarm(): Promise<number | null>; setAlarm(at: number): Promise<void> };
}

export class SagaTimer {
  readonly #fired: FiredTimeoutReport[] = [];
  readonly #log: AlarmLogEntry[] = [];
  readonly #runtime = runtimeRecording(this.#fired, this.#log);
  readonly #driver: SagaAlarmDriver;

  constructor(state: DurableObjectStateLike) {
    const { storage } = state;
    this.#driver = new SagaAlarmDriver(
      {
        getAlarm: () => storage.getAlarm(),
        setAlarm: (at) => {
          this.#log.push({ set: at });
          return storage.setAlarm(at);
        },
      },
      this.#runtime,
    );
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/arm")) {
      const [outcome] = await this.#runtime.handle(armed(url));
      return Response.json({ outcome: outcome?.outcome, alarmAt: await this.#driver.wake() });
    }
    return Response.json({ fired: this.#fired, log: this.#log });
  }

  async alarm(): Promise<void> {
    this.#log.push({ alarm: true });
    await this.#driver.alarm();
  }
}

const cronFired: FiredTimeoutReport[] = [];
// Made in the first handler: workerd refuses random values (the runtime's owner id) at global scope.
let cron: SagaRuntime | undefined;
const cronRuntime = () => {
  cron ??= runtimeRecording(cronFired);
  return cron;
};

interface Env {
  readonly SAGA_TIMER: {
    idFromName(name: string): unknown;
    get(id: unknown): { fetch(request: Request): Promise<Response> };
  };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/do/")) return env.SAGA_TIMER.get(env.SAGA_TIMER.idFromName("timer")).fetch(request);
    if (url.pathname === "/cron/arm") {
      const [outcome] = await cronRuntime().handle(armed(url));
      return Response.json({ outcome: outcome?.outcome });
    }
    return Response.json({ fired: cronFired });
  },
  ...sagaCronHandler(cronRuntime),
};
