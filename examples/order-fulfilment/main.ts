/** `bun run demo:saga`: runs the order-fulfilment saga on the in-memory defaults and prints what happened. */
import { formatReport, runDemo } from "./demo.js";

const report = await runDemo();
console.log(formatReport(report).join("\n"));
if (report.failures.length > 0 || report.needsAttention > 0) process.exitCode = 1;
