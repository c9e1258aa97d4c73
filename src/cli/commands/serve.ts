/** `juxta serve`: an image index and its model as an HTTP service with a JSON API (docs/serve.md). */
import { startServer } from "../../serve/server.js";
import { defineCommand } from "../command.js";
import { DTYPE_OPTION } from "../options.js";

export const serve = defineCommand({
  name: "serve",
  summary: "serve an image index (juxta index) over HTTP: search by text or image, add and remove images",
  usage:
    "juxta serve --index INDEX [--host 127.0.0.1] [--port 8080] [--dtype fp32|q8|fp16] [--token T] [--root DIR] [--policy P]",
  options: {
    index: {
      type: "string",
      arg: "INDEX",
      required: true,
      help: "a folder written by juxta index (it names the model, opened once)",
    },
    model: { type: "string", arg: "RUN", help: "use another copy of the index's model" },
    tokenizer: { type: "string", arg: "FILE", help: "use another copy of the index's tokenizer" },
    ...DTYPE_OPTION,
    host: {
      type: "string",
      arg: "HOST",
      default: "127.0.0.1",
      help: "address to listen on (the default: this machine only)",
    },
    port: { type: "integer", arg: "PORT", min: 0, max: 65535, default: 8080, help: "0 picks a free one" },
    token: {
      type: "string",
      arg: "T",
      help: [
        "bearer token the write routes need (also $JUXTA_SERVE_TOKEN); without one, writes",
        "are open on loopback and off on any other address",
      ],
    },
    root: { type: "string", arg: "DIR", help: "POST /items may name image files under DIR" },
    policy: {
      type: "string",
      arg: "P",
      help: [
        "a moderation policy (juxta moderate) for safe mode: searches with safe on hide the",
        "results it would flag, review or block; the page then shows a safe toggle",
      ],
    },
    approximate: {
      type: "boolean",
      help: [
        "keep an approximate HNSW index (needs usearch): built in the background, exact answers",
        "until it is ready, rebuilt when a tenth of the items are newer than it",
      ],
    },
    maxBodyMb: { type: "number", arg: "N", min: 0.001, default: 16, help: "largest request body, in MB" },
    log: { type: "boolean", help: "log each request (JSON lines on stdout)" },
  },
  notes: [
    "SIGTERM or Ctrl-C drains the requests in flight and finishes pending writes before exiting.",
    "example:",
    "  juxta serve --index photos.index &",
    "  curl -s localhost:8080/search -H 'content-type: application/json' -d '{\"text\":\"a red fruit\"}'",
  ],
  async run(v) {
    const server = await startServer({
      index: v.index,
      model: v.model,
      tokenizer: v.tokenizer,
      dtype: v.dtype,
      host: v.host,
      port: v.port,
      token: v.token ?? process.env.JUXTA_SERVE_TOKEN,
      root: v.root,
      policy: v.policy,
      approximate: v.approximate,
      log: v.log,
      limits: { bodyBytes: Math.round(v.maxBodyMb * 2 ** 20) },
    });
    console.error(`juxta serve: ${v.index} on ${server.url}`);
    await new Promise<void>((done) => {
      const stop = (signal: string) => {
        console.error(`juxta serve: ${signal}, draining`);
        server.close().then(done, (e) => {
          console.error(e);
          done();
        });
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
  },
});
