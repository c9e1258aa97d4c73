/**
 * The Hub's HTTP routes, as huggingface_hub and transformers.js use them:
 *
 *   GET  {endpoint}/api/models/{repo}/revision/{revision}   → {"sha": commit, "siblings": [{"rfilename"}]}
 *   HEAD {endpoint}/{repo}/resolve/{commit}/{file}          → X-Repo-Commit, ETag / X-Linked-Etag (sha256 of an
 *                                                             LFS file), X-Linked-Size, and for LFS files a
 *                                                             redirect (Location) to the blob host
 *   GET  <that location>  with  Range: bytes=N-             → the bytes (206 when resuming)
 *
 * Same-origin redirects (a renamed repo) are followed; the token goes only to the endpoint's origin, never
 * to a blob host. Failures the user can fix (401 gated, 404 names) are UserErrors that say what to do.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, renameSync, rmSync, statSync, truncateSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { jsonErrorMessage, UserError } from "../util/errors.js";
import { ensureDir } from "../util/fs.js";
import type { HubName } from "./names.js";
import { COMMIT } from "./names.js";

/** The Hub (or its HTTP stand-in) could not be reached at all: no answer, a cut transfer, a timeout. */
export class HubUnreachable extends UserError {
  override name = "HubUnreachable";
}

export interface Hub {
  endpoint: string;
  token?: string;
  /** Milliseconds without an answer (or, while downloading, without a byte) before giving up. Default 30 s. */
  timeoutMs?: number;
}

export interface FileMeta {
  file: string;
  /** The commit the Hub served the file from (X-Repo-Commit). */
  commit: string;
  /** The Hub's etag without quotes: sha256 hex for LFS files, git blob sha1 hex otherwise. */
  etag: string;
  size: number;
  /** Where the bytes are: the resolve URL itself, or the blob host it redirects to. */
  url: string;
}

const MAX_REDIRECTS = 10;

/** `GET /api/models/{repo}/revision/{revision}`: the commit a revision is at, and the repo's files there. */
export async function modelInfo(hub: Hub, name: HubName): Promise<{ commit: string; files: string[] }> {
  const url = `${hub.endpoint}/api/models/${name.repo}/revision/${encodeURIComponent(name.revision)}`;
  const res = await follow(hub, url, "GET", true);
  if (!res.ok) throw hubError(res, name, hub);
  let body: { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  try {
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new UserError(`${url}: the Hub's answer is not JSON (${jsonErrorMessage(e)})`);
  }
  if (typeof body.sha !== "string" || !COMMIT.test(body.sha) || !Array.isArray(body.siblings))
    throw new UserError(`${url}: expected {"sha": <commit>, "siblings": [...]} from the Hub`);
  const files = body.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === "string");
  return { commit: body.sha, files };
}

/** `HEAD /{repo}/resolve/{commit}/{file}`: the file's etag, size and download location. */
export async function fileMeta(hub: Hub, name: HubName, commit: string, file: string): Promise<FileMeta> {
  const url = `${hub.endpoint}/${name.repo}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`;
  const res = await follow(hub, url, "HEAD", false);
  if (!res.ok && !(res.status >= 300 && res.status < 400)) throw hubError(res, name, hub, file);
  const h = res.headers;
  const etag = normalizeEtag(h.get("x-linked-etag") ?? h.get("etag"));
  const size = Number(h.get("x-linked-size") ?? h.get("content-length"));
  if (!etag || !Number.isFinite(size))
    throw new UserError(
      `${url}: the Hub sent no ETag or size for ${file} (a proxy in between may strip them; set HF_ENDPOINT to the Hub itself)`,
    );
  const location = h.get("location");
  return {
    file,
    commit: h.get("x-repo-commit") ?? commit,
    etag,
    size,
    url: location ? new URL(location, res.url || url).href : url,
  };
}

/**
 * Downloads a file to `dest` through `dest.incomplete`, resuming what an earlier (cut or killed) transfer
 * left there with a Range request, and retrying a cut transfer `retries` times. The bytes are checked
 * against the etag (sha256 or git sha1) before they are renamed into place.
 */
export async function download(
  hub: Hub,
  meta: FileMeta,
  dest: string,
  onBytes: (n: number) => void,
  retries = 5,
): Promise<void> {
  const partial = `${dest}.incomplete`;
  ensureDir(dirname(partial));
  for (let attempt = 0; ; attempt++) {
    let have = existsSync(partial) ? statSync(partial).size : 0;
    if (have > meta.size) {
      truncateSync(partial, 0);
      have = 0;
    }
    if (have === meta.size) break;
    if (attempt === 0 && have > 0) onBytes(have);
    try {
      await fetchInto(hub, meta, partial, have, onBytes);
      break;
    } catch (e) {
      if (!(e instanceof HubUnreachable)) throw e;
      if (attempt >= retries) {
        const got = existsSync(partial) ? statSync(partial).size : 0;
        throw new HubUnreachable(
          `${meta.file}: the transfer stopped at ${got} of ${meta.size} bytes (${e.message}); run again to resume from ${partial}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
  const actual = await digest(partial, meta.etag);
  if (actual !== undefined && actual !== meta.etag) {
    rmSync(partial, { force: true });
    throw new UserError(
      `${meta.file}: the downloaded bytes do not match the Hub's checksum (expected ${meta.etag}, got ${actual}); the partial file was removed, run again`,
    );
  }
  renameSync(partial, dest);
}

/** One GET from byte `from` appended to `partial`; a cut or stalled transfer is a HubUnreachable. */
async function fetchInto(
  hub: Hub,
  meta: FileMeta,
  partial: string,
  from: number,
  onBytes: (n: number) => void,
): Promise<void> {
  const idle = new AbortController();
  const timeoutMs = hub.timeoutMs ?? 30_000;
  let timer = setTimeout(() => idle.abort(), timeoutMs);
  const range = from > 0 ? { range: `bytes=${from}-` } : undefined;
  const res = await follow(hub, meta.url, "GET", true, range, idle.signal);
  if (res.status === 416) {
    // The server says our partial file is past its end: start over.
    truncateSync(partial, 0);
    throw new HubUnreachable("the server refused the resume range");
  }
  if (!res.ok || !res.body)
    throw new UserError(`${meta.file}: download failed (HTTP ${res.status} from ${meta.url})`);
  const resumed = res.status === 206;
  if (resumed && !res.headers.get("content-range")?.startsWith(`bytes ${from}-`))
    throw new UserError(
      `${meta.file}: the server answered range ${from}- with ${res.headers.get("content-range")}`,
    );
  const fh = await open(partial, resumed ? "a" : "w");
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), timeoutMs);
      await fh.write(chunk);
      onBytes(chunk.length);
    }
  } catch (e) {
    throw new HubUnreachable(idle.signal.aborted ? `no data for ${timeoutMs / 1000} s` : causeOf(e));
  } finally {
    clearTimeout(timer);
    await fh.close();
  }
}

/**
 * A request that follows redirects by hand: all of them (`all`), or only same-origin ones (HEAD on resolve,
 * as huggingface_hub does, so the Hub's own headers are read before the redirect to the blob host).
 * The token goes only to the endpoint's origin.
 */
async function follow(
  hub: Hub,
  start: string,
  method: "GET" | "HEAD",
  all: boolean,
  extra?: Record<string, string>,
  signal?: AbortSignal,
): Promise<Response> {
  const origin = new URL(hub.endpoint).origin;
  let url = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = {
      "accept-encoding": "identity",
      "user-agent": "juxta",
      ...extra,
    };
    if (hub.token && new URL(url).origin === origin) headers.authorization = `Bearer ${hub.token}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        redirect: "manual",
        signal: signal ?? AbortSignal.timeout(hub.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new HubUnreachable(`cannot reach ${new URL(url).origin} (${causeOf(e)})`);
    }
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location) return withUrl(res, url);
    const next = new URL(location, url);
    if (!all && next.origin !== new URL(url).origin) return withUrl(res, url);
    await res.body?.cancel();
    url = next.href;
  }
  throw new UserError(`${start}: more than ${MAX_REDIRECTS} redirects`);
}

/** fetch leaves `res.url` empty for a manual redirect's response; keep the URL it answered. */
function withUrl(res: Response, url: string): Response {
  if (!res.url) Object.defineProperty(res, "url", { value: url });
  return res;
}

/** What the user can do about a refused request, by status and the Hub's X-Error-Code. */
function hubError(res: Response, name: HubName, hub: Hub, file?: string): UserError {
  const code = res.headers.get("x-error-code") ?? "";
  const page = `${hub.endpoint}/${name.repo}`;
  const what = file ? `${file} in ${name.source}` : name.source;
  if (res.status === 401 || res.status === 403) {
    if (code === "RepoNotFound") return new UserError(`${name.source}: no such model on the Hub (${page})`);
    return new UserError(
      hub.token
        ? `${what}: the Hub refused your token (HTTP ${res.status}); the model is gated or private: request access at ${page} with the account HF_TOKEN belongs to`
        : `${what}: the model is gated or private (HTTP ${res.status}); accept its terms at ${page}, then set HF_TOKEN to an access token of that account`,
    );
  }
  if (res.status === 404) {
    if (code === "RevisionNotFound")
      return new UserError(
        `${name.source}: no revision '${name.revision}' (a branch, tag or commit of ${page})`,
      );
    if (code === "EntryNotFound" && file) return new UserError(`${what}: no such file at that revision`);
    return new UserError(`${name.source}: no such model on the Hub (${page}, HTTP 404)`);
  }
  return new UserError(`${what}: the Hub answered HTTP ${res.status} ${res.statusText}`.trim());
}

function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1") || undefined;
}

/** The file's digest in the etag's own kind: sha256 (64 hex), git blob sha1 (40 hex); else undefined. */
async function digest(path: string, etag: string): Promise<string | undefined> {
  const kind = /^[0-9a-f]{64}$/.test(etag) ? "sha256" : /^[0-9a-f]{40}$/.test(etag) ? "sha1" : undefined;
  if (!kind) return undefined;
  const hash = createHash(kind);
  if (kind === "sha1") hash.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function causeOf(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
