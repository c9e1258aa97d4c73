/** `juxta worker`: embed shards from a BullMQ queue (juxta embed --queue) until stopped. */
import { DEFAULT_QUEUE, runEmbedWorker } from "../../distributed/queue.js";
import { defineCommand } from "../command.js";

export const worker = defineCommand({
  name: "worker",
  summary: "embed image shards queued by juxta embed --queue (run any number, on any machine)",
  usage: "juxta worker --queue redis://HOST:PORT [--queue-name NAME] [--concurrency 1] [--lock-seconds 30]",
  intro: [
    "Each shard is embedded in a worker thread and written atomically beside the plan (the images, the",
    "model folder and the output folder must be at the same paths on every machine). A worker that dies",
    "loses its shard's lock and the shard is retried by another after --lock-seconds. Ctrl-C or SIGTERM",
    "stops taking shards and finishes the ones in progress; a second signal exits at once.",
  ],
  options: {
    queue: {
      type: "string",
      arg: "URL",
      required: true,
      help: "the Redis server: redis://[user:password@]host:port[/db]",
    },
    "queue-name": { type: "string", arg: "NAME", default: DEFAULT_QUEUE, help: "queue name" },
    concurrency: {
      type: "integer",
      arg: "N",
      min: 1,
      default: 1,
      help: "shards embedded at once, each in its own thread",
    },
    "lock-seconds": {
      type: "number",
      arg: "S",
      min: 0.5,
      default: 30,
      help: "how long a silent worker keeps its shard before it is retried",
    },
  },
  notes: ["example:", "  juxta worker --queue redis://10.0.0.5:6379"],
  async run(v) {
    const stop = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) process.exit(sig === "SIGINT" ? 130 : 143);
      console.error(`juxta worker: ${sig}: finishing the shards in progress (again to exit at once)`);
      stop.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      await runEmbedWorker({
        queue: { url: v.queue, name: v["queue-name"] },
        concurrency: v.concurrency,
        lockSeconds: v["lock-seconds"],
        signal: stop.signal,
        log: (line) => console.log(`juxta worker ${process.pid}: ${line}`),
      });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
});
