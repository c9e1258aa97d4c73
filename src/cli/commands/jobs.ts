/** `juxta jobs status|merge`: the progress of a distributed embedding, and its index once finished. */
import { mergeShards } from "../../distributed/merge.js";
import { DEFAULT_QUEUE, embedQueueStatus } from "../../distributed/queue.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";

export const jobs = defineCommand({
  name: "jobs",
  summary: "progress of a distributed embedding (status), and the index built from its shards (merge)",
  usage:
    "juxta jobs status --queue redis://HOST:PORT --out DIR [--json]\n       juxta jobs merge --out DIR --index INDEX",
  options: {
    out: {
      type: "string",
      arg: "DIR",
      required: "the folder of juxta embed --queue",
      help: "the output folder given to juxta embed --queue (holds plan.json and shards/)",
    },
    queue: { type: "string", arg: "URL", help: "the Redis server (status)" },
    "queue-name": { type: "string", arg: "NAME", default: DEFAULT_QUEUE, help: "queue name" },
    index: {
      type: "string",
      arg: "INDEX",
      help: "the index folder to write (merge): searchable with juxta search",
    },
    json: { type: "boolean", help: "print the status as one JSON line" },
  },
  async run(v, positionals) {
    const [action, ...rest] = positionals;
    if (rest.length > 0) throw new UserError(`unexpected argument '${rest[0]}'`);
    if (action === "status") {
      if (v.queue === undefined) throw new UserError("--queue redis://HOST:PORT is required");
      const s = await embedQueueStatus({ url: v.queue, name: v["queue-name"] }, v.out);
      if (v.json) {
        console.log(JSON.stringify(s));
        return;
      }
      const c = s.counts;
      console.log(
        `${s.finished}/${s.shards} shards embedded (${s.items} images); queue: ${c.waiting} waiting, ${c.active} running, ${c.delayed} to retry, ${c.failed} failed`,
      );
      for (const f of s.failures) console.log(`  shard ${f.shard} failed: ${f.reason}`);
      if (s.finished === s.shards)
        console.log(`all shards done: juxta jobs merge --out ${v.out} --index INDEX builds the index`);
      return;
    }
    if (action === "merge") {
      if (v.index === undefined) throw new UserError("--index INDEX is required (the index folder to write)");
      const r = mergeShards(v.out, v.index);
      console.log(`wrote ${v.index}: ${r.items} images`);
      if (r.skipped.length > 0) {
        console.error(`skipped ${r.skipped.length} unreadable images:`);
        for (const s of r.skipped.slice(0, 10)) console.error(`  ${s}`);
      }
      return;
    }
    throw new UserError(
      `expected 'status' or 'merge', got ${action === undefined ? "nothing" : `'${action}'`}`,
    );
  },
});
