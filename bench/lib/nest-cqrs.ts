/**
 * The @nestjs/cqrs side of the core bench, wired the way a Nest user wires it: command and query
 * classes, `@CommandHandler` / `@QueryHandler` classes listed as providers of a module that imports
 * `CqrsModule.forRoot()`, and the buses taken from a Nest application context. The decorators are
 * applied as plain calls because the bench is not compiled with `experimentalDecorators`; the
 * metadata they record is the same.
 */
import "reflect-metadata";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { CommandBus, CommandHandler, CqrsModule, QueryBus, QueryHandler } from "@nestjs/cqrs";
import * as v from "valibot";

export class PingCommand {
  constructor(readonly n: number) {}
}

export class CheckedPingCommand {
  constructor(readonly n: number) {}
}

export class PingQuery {
  constructor(readonly n: number) {}
}

const pingSchema = v.object({ n: v.number() });

class PingHandler {
  async execute(command: PingCommand): Promise<number> {
    return command.n + 1;
  }
}

// Nest's buses have no middleware: validation lives in the handler, as Nest users write it.
class CheckedPingHandler {
  async execute(command: CheckedPingCommand): Promise<number> {
    return v.parse(pingSchema, command).n + 1;
  }
}

class PingQueryHandler {
  async execute(query: PingQuery): Promise<number> {
    return query.n + 1;
  }
}

CommandHandler(PingCommand)(PingHandler);
CommandHandler(CheckedPingCommand)(CheckedPingHandler);
QueryHandler(PingQuery)(PingQueryHandler);

class BenchModule {}
Module({ imports: [CqrsModule.forRoot()], providers: [PingHandler, CheckedPingHandler, PingQueryHandler] })(
  BenchModule,
);

export interface NestBuses {
  readonly commands: CommandBus;
  readonly queries: QueryBus;
  close(): Promise<void>;
}

export async function startNestBuses(): Promise<NestBuses> {
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  return { commands: app.get(CommandBus), queries: app.get(QueryBus), close: () => app.close() };
}
