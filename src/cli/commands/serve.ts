/** `juxta serve`: an image index and its model as an HTTP service with a JSON API (docs/serve.md). */
import { startServer } from "../../serve/server.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, numberFlag } from "../command.js";

export const serve = defineCommand({
  name: "serve",
  summary: "serve an image index (juxta index) over HTTP: search by text or image, add and remove images",
  usage: "juxta serve --index INDEX [--host 127.0.0.1] [--port 8080] [--token T] [--root DIR]",
  help: [
    "options:",
    "  --index INDEX        a folder written by juxta index (it names the model, opened once)",
    "  --model RUN, --tokenizer FILE   use another copy of the index's model or tokenizer",
    "  --host HOST          address to listen on (default 127.0.0.1: this machine only)",
    "  --port PORT          (default 8080; 0 picks a free one)",
    "  --token T            bearer token the write routes need (also $JUXTA_SERVE_TOKEN); without one,",
    "                       writes are open on loopback and off on any other address",
    "  --root DIR           POST /items may name image files under DIR (server-side paths)",
    "  --max-body-mb N      largest request body (default 16)",
    "  --log                log each request (JSON lines on stdout)",
    "SIGTERM or Ctrl-C drains the requests in flight and finishes pending writes before exiting.",
    "example:",
    "  juxta serve --index photos.index &  curl -s localhost:8080/search -d '{\"text\":\"a red fruit\"}' -H 'content-type: application/json'",
  ].join("\n"),
  options: {
    index: { type: "string" },
    model: { type: "string" },
    tokenizer: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    token: { type: "string" },
    root: { type: "string" },
    "max-body-mb": { type: "string" },
    log: { type: "boolean" },
  },
  async run(v) {
    if (v.index === undefined) throw new UserError("--index INDEX is required");
    const port = numberFlag(v.port, "port", 8080, { integer: true, min: 0 });
    if (port > 65535) throw new UserError(`--port expects a port number up to 65535, got ${port}`);
    const mb = numberFlag(v["max-body-mb"], "max-body-mb", 16, { min: 0.001 });
    const server = await startServer({
      index: v.index,
      model: v.model,
      tokenizer: v.tokenizer,
      host: v.host,
      port,
      token: v.token ?? process.env.JUXTA_SERVE_TOKEN,
      root: v.root,
      log: v.log,
      limits: { bodyBytes: Math.round(mb * 2 ** 20) },
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
