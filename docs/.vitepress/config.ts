import { defineConfig } from "vitepress";

export default defineConfig({
  title: "EventFlows",
  description:
    "Event sourcing, CQRS and event-driven architecture for TypeScript, on Bun, Node, AWS Lambda and Cloudflare Workers.",
  cleanUrls: true,
  // Dead links fail the build: keep it that way (do not set ignoreDeadLinks).
  themeConfig: {
    search: { provider: "local" },
    nav: [
      { text: "Guide", link: "/guide/getting-started" },
      { text: "Core", link: "/core/aggregates" },
      { text: "Example", link: "/guide/example" },
    ],
    sidebar: [
      {
        text: "Introduction",
        items: [
          { text: "Getting started", link: "/guide/getting-started" },
          { text: "Event sourcing, CQRS and DDD", link: "/guide/concepts" },
          { text: "The shopping-cart example", link: "/guide/example" },
          { text: "Migrating from Emmett, Castore, @nestjs/cqrs", link: "/guide/migrating" },
        ],
      },
      {
        text: "Examples",
        items: [
          { text: "E-commerce: sagas, projections, HTTP", link: "/examples/ecommerce" },
          { text: "Task management on Workers (Durable Objects, PostgreSQL)", link: "/examples/task-management" },
        ],
      },
      {
        text: "Core",
        items: [
          { text: "Aggregates", link: "/core/aggregates" },
          { text: "Events and envelopes", link: "/core/events" },
          { text: "Schema evolution", link: "/core/evolution" },
          { text: "Personal data and erasure", link: "/core/personal-data" },
          { text: "Deleting streams and retention", link: "/core/stream-deletion" },
          { text: "Streams", link: "/core/streams" },
          { text: "Value objects and ids", link: "/core/values-and-ids" },
          { text: "The event store", link: "/core/event-store" },
          { text: "Command and query buses", link: "/core/buses" },
          { text: "The event bus", link: "/core/event-bus" },
          { text: "The repository", link: "/core/repository" },
          { text: "Snapshots", link: "/core/snapshots" },
          { text: "Projections", link: "/core/projections" },
          { text: "Sagas and process managers", link: "/core/sagas" },
          { text: "Errors", link: "/core/errors" },
          { text: "Observability", link: "/core/observability" },
          { text: "Metrics and health", link: "/core/metrics-and-health" },
        ],
      },
      {
        text: "Guides",
        items: [
          { text: "Testing", link: "/guide/testing" },
          { text: "Live event streams (SSE, WebSocket)", link: "/guide/live-streams" },
          { text: "Multi-tenancy", link: "/guide/multi-tenancy" },
          { text: "The eventflows command (CLI)", link: "/guide/cli" },
          { text: "Runtimes", link: "/guide/runtimes" },
          { text: "Lambda under RIE", link: "/lambda-runtime" },
          { text: "Deploying on AWS", link: "/deployment" },
          { text: "Security", link: "/security" },
          { text: "Operations UI (/admin)", link: "/guide/operations-ui" },
          { text: "Cloudflare worker template", link: "/worker-template" },
          { text: "Benchmarks", link: "/benchmarks" },
          { text: "Architecture (for contributors)", link: "/architecture" },
        ],
      },
      {
        text: "Adapters",
        items: [
          { text: "Write your own adapter", link: "/adapters/write-your-own" },
          { text: "Hono (HTTP routes)", link: "/adapters/hono" },
          { text: "EventBridge (events to AWS)", link: "/adapters/eventbridge" },
          { text: "Lambda (API Gateway, SQS)", link: "/adapters/lambda" },
          { text: "DynamoDB (event store)", link: "/adapters/dynamodb" },
          { text: "PostgreSQL (event store, projections)", link: "/adapters/postgres" },
          { text: "PostgreSQL tenant isolation", link: "/adapters/postgres-tenancy" },
          { text: "DynamoDB tenant isolation", link: "/adapters/dynamodb-tenancy" },
          { text: "SQLite, D1, Durable Objects (event store)", link: "/adapters/sqlite" },
          { text: "OpenTelemetry (metrics export)", link: "/adapters/otel" },
          // Adapter pages go here: add docs/adapters/<name>.md and one line below it, e.g.
          //   { text: "PostgreSQL", link: "/adapters/postgres" },
          // Only for pages that exist: a link to a missing page fails `npm run docs:build`.
        ],
      },
    ],
    socialLinks: [],
    footer: { message: "MIT licensed" },
  },
});
