/**
 * The @nestjs/cqrs side of the sagas bench: a `@Saga()` (an RxJS stream from events to commands)
 * and a `@CommandHandler`, wired in a Nest module as a Nest user wires them. Nest sagas keep no
 * state and persist nothing: this is the in-memory dispatch path only. Decorators are applied as
 * plain calls (the bench is not compiled with `experimentalDecorators`); the metadata is the same.
 */
import "reflect-metadata";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { CommandHandler, CqrsModule, EventBus, type IEvent, ofType, Saga } from "@nestjs/cqrs";
import { map, type Observable } from "rxjs";

export class OrderPlaced {
  constructor(
    readonly orderId: string,
    readonly done: () => void,
  ) {}
}

class ReserveStock {
  constructor(
    readonly orderId: string,
    readonly done: () => void,
  ) {}
}

class ReserveStockHandler {
  async execute(command: ReserveStock): Promise<void> {
    command.done();
  }
}
CommandHandler(ReserveStock)(ReserveStockHandler);

class OrderSagas {
  orderPlaced = (events$: Observable<IEvent>) =>
    events$.pipe(
      ofType(OrderPlaced),
      map((event) => new ReserveStock(event.orderId, event.done)),
    );
}
Saga()(OrderSagas.prototype, "orderPlaced");

class SagaBenchModule {}
Module({ imports: [CqrsModule.forRoot()], providers: [ReserveStockHandler, OrderSagas] })(SagaBenchModule);

export interface NestSaga {
  /** Publishes OrderPlaced and resolves once the saga's command was handled. */
  step(orderId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startNestSaga(): Promise<NestSaga> {
  const app = await NestFactory.createApplicationContext(SagaBenchModule, { logger: false });
  await app.init();
  const events = app.get(EventBus);
  return {
    step: (orderId) => new Promise<void>((resolve) => events.publish(new OrderPlaced(orderId, resolve))),
    close: () => app.close(),
  };
}
