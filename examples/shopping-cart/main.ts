/** `bun run demo`: runs the shopping-cart scenario on the in-memory defaults and prints what happened. */
import { formatReport, runDemo } from "./demo.js";

const report = await runDemo();
console.log(formatReport(report).join("\n"));
