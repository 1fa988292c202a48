// Workers of the basic example. `docket start` imports this file (listed in docket.toml's
// `modules`) and registers every export made by defineWorker.
import { setTimeout as sleep } from "node:timers/promises";
import { defineWorker } from "docket";

/** Sends a welcome email (pretends to: a short wait stands for the mail service). */
export const sendWelcomeEmail = defineWorker({
  name: "email.welcome",
  queue: "mailers",
  maxAttempts: 5,
  async perform(job, { signal }) {
    if (typeof job.args.to !== "string") throw new Error("args.to must be an email address");
    // Honour the signal: it aborts on timeout, cancel and shutdown past the grace period.
    await sleep(job.args.delayMs ?? 100, undefined, { signal });
    return { sentTo: job.args.to };
  },
});

/** Adds up numbers: a job whose result is kept in meta.result. */
export const addNumbers = defineWorker({
  name: "math.add",
  async perform(job) {
    const numbers = Array.isArray(job.args.numbers) ? job.args.numbers : [];
    return { sum: numbers.reduce((a, b) => a + b, 0) };
  },
});
