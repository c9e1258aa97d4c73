/** `/metrics` of `juxta serve`, in Prometheus's text format (prom-client, one registry per server). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { HnswStatus } from "../search/hnsw.js";

export interface ServeMetrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  latency: Histogram<"route" | "method">;
  safeHidden: Counter;
}

export function serveMetrics(sample: {
  queue: () => number;
  items: () => Promise<number>;
  approximate: () => HnswStatus;
}): ServeMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: "juxta_http_requests_total",
    help: "HTTP requests answered, by route, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "juxta_http_request_duration_seconds",
    help: "Time to answer an HTTP request, by route and method",
    labelNames: ["route", "method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "juxta_inference_queue_depth",
    help: "Embedding jobs waiting for or running in the inference worker",
    registers: [registry],
    collect() {
      this.set(sample.queue());
    },
  });
  new Gauge({
    name: "juxta_index_items",
    help: "Items in the served index",
    registers: [registry],
    async collect() {
      this.set(await sample.items());
    },
  });
  const ann = (name: string, help: string, value: (a: HnswStatus) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(sample.approximate()));
      },
    });
  ann("juxta_ann_ready", "1 when searches use the approximate (HNSW) index, else 0 (exact scan)", (a) =>
    a.state === "ready" ? 1 : 0,
  );
  ann(
    "juxta_ann_recall_at_10",
    "Recall@10 of the approximate index against the exact scan, measured when it was built (0: none)",
    (a) => a.stats?.recallAt10 ?? 0,
  );
  ann("juxta_ann_graph_items", "Items in the approximate index's graph", (a) => a.stats?.items ?? 0);
  ann(
    "juxta_ann_pending_items",
    "Items added since the graph was built (searched exactly)",
    (a) => a.pending,
  );
  ann("juxta_ann_build_progress", "Fraction of the graph built, while a build runs (else 0)", (a) =>
    a.progress ? a.progress.done / a.progress.total : 0,
  );
  const safeHidden = new Counter({
    name: "juxta_safe_hidden_total",
    help: "Hits hidden by safe mode (the moderation policy would not allow them)",
    registers: [registry],
  });
  return { registry, requests, latency, safeHidden };
}
