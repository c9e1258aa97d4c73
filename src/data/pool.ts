/**
 * The loaders' worker threads: each job goes to the least busy worker and its reply resolves the job's
 * promise. Workers are referenced only while they have jobs, so a forgotten loader does not keep the
 * process alive; a worker that dies fails every job still waiting.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerInit, WorkerJob, WorkerReply } from "./loader-worker.js";

/** A job's answer: its pixels, and (streamed) the samples whose image was replaced. */
export type JobResult = Extract<WorkerReply, { pixels: Float32Array }>;

interface PoolWorker {
  worker: Worker;
  outstanding: number;
}

/**
 * Start a loader worker. Compiled, its `.js` file sits next to this one. Under tsx only the `.ts` file
 * exists and Node 20 does not run `--import tsx` in workers, so a small bootstrap registers tsx first.
 */
function spawnWorker(init: WorkerInit): Worker {
  const js = new URL("./loader-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: init });
  const ts = new URL("./loader-worker.ts", import.meta.url);
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

export class WorkerPool {
  private readonly pool: PoolWorker[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (r: JobResult) => void; reject: (e: Error) => void }
  >();
  private nextJob = 0;
  private closed = false;

  constructor(init: WorkerInit, workers: number) {
    for (let i = 0; i < workers; i++) this.pool.push(this.start(init));
  }

  get size(): number {
    return this.pool.length;
  }

  private start(init: WorkerInit): PoolWorker {
    const worker = spawnWorker(init);
    const entry: PoolWorker = { worker, outstanding: 0 };
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      if (--entry.outstanding === 0 && !this.closed) worker.unref(); // close() holds a reference until exit
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ("error" in reply) w?.reject(new Error(`loader worker failed: ${reply.error}`));
      else w?.resolve(reply);
    });
    const failAll = (e: Error): void => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    worker.on("error", (e) => failAll(e));
    worker.on("exit", (code) => {
      if (!this.closed) failAll(new Error(`loader worker exited unexpectedly (code ${code})`));
    });
    return entry;
  }

  /** Run a job (its `id` is assigned here) on the least busy worker; `transfer` moves buffers, no copy. */
  run(job: Omit<WorkerJob, "id">, transfer: ArrayBuffer[] = []): Promise<JobResult> {
    if (this.closed) return Promise.reject(new Error("loader is closed"));
    let target = this.pool[0] as PoolWorker;
    for (const p of this.pool) if (p.outstanding < target.outstanding) target = p;
    const id = this.nextJob++;
    const result = new Promise<JobResult>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    if (target.outstanding++ === 0) target.worker.ref();
    target.worker.postMessage({ ...job, id }, transfer);
    return result;
  }

  /** Stop the workers; jobs still running are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.values()) w.reject(new Error("loader is closed"));
    this.waiting.clear();
    // An unref'd worker does not keep the event loop alive, so its terminate() could be left pending with
    // nothing else running (the process would exit mid-await): hold a reference until it has stopped.
    await Promise.all(
      this.pool.map((p) => {
        p.worker.ref();
        return p.worker.terminate();
      }),
    );
  }
}
