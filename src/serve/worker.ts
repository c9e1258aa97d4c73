/**
 * The inference worker thread of `juxta serve`: it opens the model once and embeds what the main thread
 * sends, so ONNX Runtime's blocking `session.run` never stalls the server's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openModel } from "../handle/open.js";
import { UserError } from "../util/errors.js";
import type { WorkerReply, WorkerRequest } from "./inference.js";

const { model, tokenizer } = workerData as { model: string; tokenizer?: string };
const port = parentPort;
if (!port) throw new Error("serve/worker.js runs as a worker thread");
const handle = await openModel(model, { tokenizer });
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
