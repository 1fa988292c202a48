// Inserts a few jobs from a process that runs no queues, as a web server would.
//   node enqueue.js [count]     (database from DOCKET_DATABASE_URL / DATABASE_URL or docket.toml)
import { fileURLToPath } from "node:url";
import { Queue } from "docket";

const count = Number(process.argv[2] ?? 10);
const config = fileURLToPath(new URL("./docket.toml", import.meta.url));

// Same file, no queues: this node only inserts.
const queue = await Queue.fromConfig(config, { queues: {} });
const jobs = await queue.insertMany(
  "email.welcome",
  Array.from({ length: count }, (_, i) => ({ to: `user${i}@example.com` })),
  { queue: "mailers" },
);
await queue.insert("math.add", { numbers: [1, 2, 3] });
console.log(`inserted ${jobs.length + 1} jobs`);
await queue.stop();
