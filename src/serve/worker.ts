/**
 * The inference worker thread of `juxta serve`: it opens the model once and embeds what the main thread
 * sends, so ONNX Runtime's blocking `session.run` never stalls the server's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { WeightFormat } from "../engine/index.js";
import { openModel } from "../handle/open.js";
import { UserError } from "../util/errors.js";
import type { WorkerReply, WorkerRequest } from "./inference.js";

const { model, tokenizer, dtype } = workerData as { model: string; tokenizer?: string; dtype?: WeightFormat };
const port = parentPort;
if (!port) throw new Error("serve/worker.js runs as a worker thread");
// Its threads sleep between ops rather than spin: the HTTP loop and the index scan share the cores with
// it, and a spinning pool held them while they waited (8 clients: text p50 37 -> 32 ms in one A/B).
const handle = await openModel(model, { tokenizer, dtype, session: { spinning: false } });
port.postMessage({
  ready: true,
  dim: handle.dim,
  hasText: handle.hasText,
  dir: handle.dir,
} satisfies WorkerReply);

port.on("message", async (req: WorkerRequest) => {
  try {
    const vectors =
      req.kind === "texts" ? await handle.embedTexts(req.texts) : await handle.embedImages(req.images);
    port.postMessage({ id: req.id, vectors } satisfies WorkerReply, [vectors.buffer as ArrayBuffer]);
  } catch (e) {
    const user = e instanceof UserError;
    port.postMessage({
      id: req.id,
      error: user ? e.message : String((e as Error).stack ?? e),
      user,
    } satisfies WorkerReply);
  }
});
