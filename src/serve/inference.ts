/**
 * The main thread's side of the inference worker (worker.ts): a queue of embedding jobs sent to the
 * worker one run at a time. Text queries that arrive while a run is in flight wait in the queue and go
 * into the next run together (one batched `session.run` instead of many); `juxta bench --suite serve`
 * measures this against one run per query (`batchTexts: false`).
 */
import { Worker } from "node:worker_threads";
import type { WeightFormat } from "../engine/index.js";
import { UserError } from "../util/errors.js";

export type WorkerRequest =
  | { id: number; kind: "texts"; texts: string[] }
  | { id: number; kind: "images"; images: Uint8Array[] };

export type WorkerReply =
  | { ready: true; dim: number; hasText: boolean; dir?: string }
  | { id: number; vectors: Float32Array }
  | { id: number; error: string; user: boolean };

interface Job {
  kind: "texts" | "images";
  inputs: (string | Uint8Array)[];
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

export interface InferenceOptions {
  model: string;
  tokenizer?: string;
  /** Inference precision (default fp32; docs/quantization.md). */
  dtype?: WeightFormat;
  /** Put the text queries waiting for the worker into one run (default true). */
  batchTexts?: boolean;
  /** Texts per batched run at most. */
  maxBatch?: number;
}

export class Inference {
  readonly dim: number;
  readonly hasText: boolean;
  private queue: Job[] = [];
  private inFlight: Job[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    ready: { dim: number; hasText: boolean },
    private readonly batchTexts: boolean,
    private readonly maxBatch: number,
  ) {
    this.dim = ready.dim;
    this.hasText = ready.hasText;
    worker.on("message", (m: WorkerReply) => this.settle(m));
    worker.on("error", (e) => this.fail(e));
    worker.on("exit", (code) => this.fail(new Error(`the inference worker exited (code ${code})`)));
  }

  /** Start the worker and wait until it has opened the model. */
  static async start(opts: InferenceOptions): Promise<Inference> {
    const worker = new Worker(new URL("./worker.js", import.meta.url), {
      workerData: { model: opts.model, tokenizer: opts.tokenizer, dtype: opts.dtype },
    });
    let onMessage: (m: WorkerReply) => void = () => {};
    let onError: (e: Error) => void = () => {};
    let onExit: (code: number) => void = () => {};
    const ready = await new Promise<{ dim: number; hasText: boolean }>((resolve, reject) => {
      onMessage = (m) => ("ready" in m ? resolve(m) : reject(new Error("bad reply")));
      // The worker fails to start on a bad model folder: its message is the user's error.
      onError = (e) => reject(new UserError(e.message));
      onExit = (code) => reject(new Error(`the inference worker exited (code ${code})`));
      worker.once("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
    });
    worker.off("message", onMessage);
    worker.off("error", onError);
    worker.off("exit", onExit);
    return new Inference(worker, ready, opts.batchTexts ?? true, opts.maxBatch ?? 64);
  }

  /** Jobs waiting or running. */
  get depth(): number {
    return this.queue.length + this.inFlight.length;
  }

  /** Embeddings [texts.length, dim], unnormalized. */
  embedTexts(texts: string[]): Promise<Float32Array> {
    return this.enqueue("texts", texts);
  }

  /** Embeddings of encoded images [images.length, dim]; a bad image rejects with its reason. */
  embedImages(images: Uint8Array[]): Promise<Float32Array> {
    return this.enqueue("images", images);
  }

  /** Stop the worker; waiting jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.fail(new Error("the server is shutting down"));
    await this.worker.terminate();
  }

  private enqueue(kind: Job["kind"], inputs: (string | Uint8Array)[]): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error("the server is shutting down"));
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, inputs, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight.length > 0 || this.queue.length === 0) return;
    const head = this.queue.shift() as Job;
    const jobs = [head];
    if (head.kind === "texts" && this.batchTexts) {
      let n = head.inputs.length;
      while (this.queue[0]?.kind === "texts" && n + this.queue[0].inputs.length <= this.maxBatch) {
        const job = this.queue.shift() as Job;
        n += job.inputs.length;
        jobs.push(job);
      }
    }
    this.inFlight = jobs;
    const id = this.nextId++;
    const inputs = jobs.flatMap((j) => j.inputs);
    const req: WorkerRequest =
      head.kind === "texts"
        ? { id, kind: "texts", texts: inputs as string[] }
        : { id, kind: "images", images: inputs as Uint8Array[] };
    this.worker.postMessage(req);
  }

  private settle(m: WorkerReply): void {
    if ("ready" in m) return;
    const jobs = this.inFlight;
    this.inFlight = [];
    if ("error" in m) {
      for (const j of jobs) j.reject(m.user ? new UserError(m.error) : new Error(m.error));
    } else {
      let row = 0;
      for (const j of jobs) {
        j.resolve(m.vectors.slice(row * this.dim, (row + j.inputs.length) * this.dim));
        row += j.inputs.length;
      }
    }
    this.pump();
  }

  private fail(e: Error): void {
    for (const j of [...this.inFlight, ...this.queue]) j.reject(e);
    this.inFlight = [];
    this.queue = [];
  }
}
