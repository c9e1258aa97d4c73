/**
 * `resolveModelSource`: what every command and `openModel` call to turn a `--model` value into a folder.
 * A local path comes back as it is. A Hub name (`hf:org/name[@revision]`, `hf-hub:org/name`) comes back as
 * its snapshot folder in the Hugging Face cache, downloaded first where needed:
 *
 * - a commit that is cached is used with no network at all; so is anything cached under HF_HUB_OFFLINE=1;
 * - otherwise the Hub says which commit the revision is at now; files of that commit already in the cache
 *   (by Python's huggingface_hub, transformers, open_clip or Juxta) are linked, not downloaded again;
 * - the Hub unreachable with a cached copy: the cached copy, with a note; without one: a UserError in one
 *   line saying which files to put where.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import { RepoCache } from "./cache.js";
import { type HubEnv, hubEnv } from "./env.js";
import { modelFiles, NEEDED_FILES_HINT } from "./files.js";
import { download, fileMeta, type Hub, HubUnreachable, modelInfo } from "./http.js";
import { COMMIT, type HubName, isHubName, parseHubName } from "./names.js";

export interface ResolveOptions {
  /** Environment to read HF_* variables from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the download progress bar and notes go; `false` for silence. Default `process.stderr`. */
  progress?: ProgressStream | false;
  /** Idle milliseconds before a request or transfer is given up. Default 30 s. */
  timeoutMs?: number;
  /** Times a cut transfer is resumed before giving up. Default 5. */
  retries?: number;
}

export async function resolveModelSource(source: string, opts: ResolveOptions = {}): Promise<string> {
  if (!isHubName(source)) return source;
  const name = parseHubName(source);
  const env = hubEnv(opts.env);
  const cache = new RepoCache(env.cacheDir, name.repo);
  const cached = cachedSnapshot(cache, name);
  if (cached && (env.offline || COMMIT.test(name.revision))) return cached;
  if (env.offline) throw notAvailable(name, env, cache, "HF_HUB_OFFLINE is set");
  const hub: Hub = { endpoint: env.endpoint, token: env.token, timeoutMs: opts.timeoutMs };
  const stream = opts.progress === undefined ? process.stderr : opts.progress;
  let info: { commit: string; files: string[] };
  try {
    info = await modelInfo(hub, name);
  } catch (e) {
    if (!(e instanceof HubUnreachable)) throw e;
    if (!cached) throw notAvailable(name, env, cache, e.message);
    if (stream) stream.write(`juxta: ${e.message}; using the cached copy of ${name.source} (${cached})\n`);
    return cached;
  }
  const { files } = modelFiles(info.files, name.source);
  await fetchSnapshot(hub, name, cache, info.commit, files, stream, opts.retries);
  cache.writeRef(name.revision, info.commit);
  return cache.snapshot(info.commit);
}

/** The cached snapshot of the revision if it holds a whole model, else undefined. */
function cachedSnapshot(cache: RepoCache, name: HubName): string | undefined {
  const commit = cache.commitOf(name.revision);
  if (!commit) return undefined;
  try {
    modelFiles(cache.files(commit), name.source);
    return cache.snapshot(commit);
  } catch {
    return undefined;
  }
}

/** Links the commit's files into its snapshot, downloading the blobs the cache does not have yet. */
async function fetchSnapshot(
  hub: Hub,
  name: HubName,
  cache: RepoCache,
  commit: string,
  files: string[],
  stream: ProgressStream | false,
  retries?: number,
): Promise<void> {
  const missing = files.filter((f) => !existsSync(join(cache.snapshot(commit), f)));
  const metas = [];
  for (const file of missing) metas.push(await fileMeta(hub, name, commit, file));
  const toFetch = metas.filter((m) => !existsSync(cache.blob(m.etag)));
  if (toFetch.length > 0) {
    const total = toFetch.reduce((s, m) => s + m.size, 0);
    const bar = stream
      ? new Progress({
          label: `download ${name.source}`,
          total,
          stream,
          unit: "MB",
          perTick: 1e-6,
          formatCount: megabytes,
        })
      : undefined;
    for (const meta of toFetch)
      await download(hub, meta, cache.blob(meta.etag), (n) => bar?.tick(n, { file: meta.file }), retries);
    bar?.done({});
  }
  for (const meta of metas) cache.link(commit, meta.file, meta.etag);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

function notAvailable(name: HubName, env: HubEnv, cache: RepoCache, why: string): UserError {
  const commit = cache.commitOf(name.revision);
  const have = commit ? cache.files(commit) : [];
  const partial = have.length > 0 ? ` (the cached snapshot ${commit} has only ${have.join(", ")})` : "";
  return new UserError(
    `${name.source} is not in the Hugging Face cache ${env.cacheDir}${partial} and the Hub cannot be used (${why}): put ${NEEDED_FILES_HINT} from ${env.endpoint}/${name.repo} into one folder and pass that folder, or fill the cache where Python would (huggingface-cli download ${name.repo}, with HF_HUB_CACHE=${env.cacheDir})`,
  );
}
