/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1 (port 0), with the routes and headers the real one
 * has: the model-info API, `resolve/{revision}/{file}` answering HEAD and GET with X-Repo-Commit and ETag,
 * LFS files (`*.safetensors`) redirected to a separate blob host with X-Linked-Etag (sha256) and
 * X-Linked-Size, HTTP Range on the blob host, 401 for gated repos without a token and for unknown repos,
 * 404 with X-Error-Code for unknown revisions and files, and relative redirects for renamed repos.
 * Tests can cut a transfer in the middle, corrupt one, and move a branch to a new commit.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Logged {
  host: "hub" | "blobs";
  method: string;
  path: string;
  range?: string;
  auth?: string;
}

interface Repo {
  refs: Map<string, string>;
  commits: Map<string, Map<string, Buffer>>;
  /** Token that may read it (gated); unset: public. */
  token?: string;
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
export const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const isLfs = (file: string) => file.endsWith(".safetensors");

export class FakeHub {
  readonly log: Logged[] = [];
  /** sha256 of blobs whose next GET stops after half of its bytes. */
  readonly cutOnce = new Set<string>();
  /** sha256 of blobs served with one byte changed. */
  readonly corrupt = new Set<string>();
  /** old repo id → new repo id, answered with a relative redirect. */
  readonly renamed = new Map<string, string>();
  private readonly repos = new Map<string, Repo>();
  private readonly blobs = new Map<string, Buffer>();
  private hub?: Server;
  private blobHost?: Server;
  endpoint = "";
  blobUrl = "";

  /** Adds a commit with these files to a repo (created if new) and points `branch` at it. */
  commit(
    repo: string,
    files: Record<string, Buffer>,
    opts: { branch?: string; token?: string } = {},
  ): string {
    let r = this.repos.get(repo);
    if (!r) {
      r = { refs: new Map(), commits: new Map(), token: opts.token };
      this.repos.set(repo, r);
    }
    const sha = randomBytes(20).toString("hex");
    r.commits.set(sha, new Map(Object.entries(files)));
    r.refs.set(opts.branch ?? "main", sha);
    for (const content of Object.values(files)) this.blobs.set(sha256(content), content);
    return sha;
  }

  async start(): Promise<this> {
    this.blobHost = await listen((req, res) => this.serveBlob(req, res));
    this.hub = await listen((req, res) => this.serveHub(req, res));
    this.blobUrl = `http://127.0.0.1:${(this.blobHost.address() as AddressInfo).port}`;
    this.endpoint = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.blobHost]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
  }

  requests(host: "hub" | "blobs", method?: string): Logged[] {
    return this.log.filter((l) => l.host === host && (!method || l.method === method));
  }

  private record(host: "hub" | "blobs", req: IncomingMessage): void {
    this.log.push({
      host,
      method: req.method ?? "",
      path: decodeURIComponent(req.url ?? ""),
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
    });
  }

  private serveHub(req: IncomingMessage, res: ServerResponse): undefined {
    this.record("hub", req);
    const url = new URL(req.url ?? "/", this.endpoint);
    const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    const api = parts[0] === "api" && parts[1] === "models" && parts[4] === "revision";
    const [org, name] = api ? [parts[2], parts[3]] : [parts[0], parts[1]];
    const id = `${org}/${name}`;
    const renamed = this.renamed.get(id);
    if (renamed) {
      const rest = url.pathname
        .split("/")
        .slice(api ? 5 : 3)
        .join("/");
      const to = api ? `/api/models/${renamed}/${rest}` : `/${renamed}/${rest}`;
      return end(res, 307, { location: to });
    }
    const repo = this.repos.get(id);
    if (!repo) return end(res, 401, { "x-error-code": "RepoNotFound" }, "Repository not found");
    if (api) {
      const commit = commitOf(repo, parts.slice(5).join("/"));
      if (!commit) return end(res, 404, { "x-error-code": "RevisionNotFound" }, "Revision not found");
      const siblings = [...(repo.commits.get(commit)?.keys() ?? [])].map((rfilename) => ({ rfilename }));
      return end(
        res,
        200,
        { "content-type": "application/json" },
        JSON.stringify({ id, sha: commit, siblings }),
      );
    }
    if (parts[2] !== "resolve") return end(res, 404, {}, "not a route");
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`)
      return end(
        res,
        req.headers.authorization ? 403 : 401,
        { "x-error-code": "GatedRepo" },
        "Access to this model is restricted",
      );
    const commit = commitOf(repo, parts[3] ?? "");
    if (!commit) return end(res, 404, { "x-error-code": "RevisionNotFound" }, "Revision not found");
    const file = parts.slice(4).join("/");
    const content = repo.commits.get(commit)?.get(file);
    if (!content)
      return end(res, 404, { "x-error-code": "EntryNotFound", "x-repo-commit": commit }, "Entry not found");
    if (isLfs(file)) {
      const pointer = Buffer.from(
        `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(content)}\nsize ${content.length}\n`,
      );
      return end(res, 302, {
        location: `${this.blobUrl}/blobs/${sha256(content)}?signature=x`,
        "x-repo-commit": commit,
        "x-linked-etag": `"${sha256(content)}"`,
        "x-linked-size": String(content.length),
        etag: `"${gitSha1(pointer)}"`,
      });
    }
    const headers = {
      "x-repo-commit": commit,
      etag: `"${gitSha1(content)}"`,
      "content-length": String(content.length),
    };
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : content);
  }

  private serveBlob(req: IncomingMessage, res: ServerResponse): undefined {
    this.record("blobs", req);
    const sha = new URL(req.url ?? "/", this.blobUrl).pathname.split("/")[2] ?? "";
    let content = this.blobs.get(sha);
    if (!content) return end(res, 404, {}, "no such blob");
    if (this.corrupt.has(sha)) {
      content = Buffer.from(content);
      content[0] = (content[0] ?? 0) ^ 0xff;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const from = m ? Number(m[1]) : 0;
    if (from >= content.length && m) return end(res, 416, { "content-range": `bytes */${content.length}` });
    const body = content.subarray(from);
    res.writeHead(m ? 206 : 200, {
      "content-length": String(body.length),
      "accept-ranges": "bytes",
      ...(m ? { "content-range": `bytes ${from}-${content.length - 1}/${content.length}` } : {}),
    });
    if (this.cutOnce.delete(sha)) {
      // Half the bytes, then the connection drops (as a network failure would).
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  }
}

function commitOf(repo: Repo, revision: string): string | undefined {
  return repo.commits.has(revision) ? revision : repo.refs.get(revision);
}

function end(res: ServerResponse, status: number, headers: Record<string, string>, body?: string): undefined {
  res.writeHead(status, headers);
  res.end(body);
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

/** An endpoint nothing listens on (a port just freed), for "no network". */
export async function deadEndpoint(): Promise<string> {
  const server = await listen(() => {});
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}
