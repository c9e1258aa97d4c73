/**
 * `hf:` names through a local stand-in for the Hub (fake-hub.ts, via HF_ENDPOINT) and through caches laid
 * out exactly as Python's huggingface_hub writes them, opened offline.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { hubEnv, parseHubName, resolveModelSource } from "../../src/hub/index.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { colourImages, tempDir, tinyModel } from "../apps/fixtures.js";
import { needsShared, projectRoot, sharedData } from "../helpers.js";
import { deadEndpoint, FakeHub, gitSha1, sha256 } from "./fake-hub.js";

const REPO = "test-org/tiny-clip";

/** A juxta run's files, plus the kinds of files a model repo has that Juxta must not download. */
function repoFiles(seed = 0): Record<string, Buffer> {
  const dir = tinyModel(seed);
  const files: Record<string, Buffer> = {};
  for (const f of readdirSync(dir)) files[f] = readFileSync(join(dir, f));
  files["pytorch_model.bin"] = Buffer.from("a pickle Juxta must never fetch");
  files["tf_model.h5"] = Buffer.from("tensorflow weights");
  files["README.md"] = Buffer.from("# tiny clip\n");
  return files;
}

class Captured {
  text = "";
  write(s: string) {
    this.text += s;
    return true;
  }
}

describe("Hub names", () => {
  it("parses hf:, hf-hub: and @revision, and refuses what the Hub would", () => {
    assert.deepEqual(parseHubName("hf:openai/clip-vit-base-patch32"), {
      repo: "openai/clip-vit-base-patch32",
      revision: "main",
      source: "hf:openai/clip-vit-base-patch32",
    });
    assert.equal(
      parseHubName("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K").repo,
      "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    );
    assert.equal(parseHubName("hf:org/name@refs/pr/3").revision, "refs/pr/3");
    for (const bad of ["hf:", "hf:a/b/c", "hf:../x", "hf:org/na--me", "hf:org/name@"])
      assert.throws(() => parseHubName(bad), /not a Hub model id|not a revision/, bad);
  });

  it("finds the cache, endpoint, token and offline mode as huggingface_hub does", () => {
    const home = tempDir();
    writeFileSync(join(home, "token"), "hf_from_file\n");
    assert.deepEqual(hubEnv({ HF_HOME: home }), {
      cacheDir: join(home, "hub"),
      endpoint: "https://huggingface.co",
      token: "hf_from_file",
      offline: false,
    });
    const e = hubEnv({
      HF_HOME: home,
      HUGGINGFACE_HUB_CACHE: "/legacy",
      HF_HUB_CACHE: "/c",
      HF_ENDPOINT: "http://mirror/",
      HF_TOKEN: "hf_env",
      HF_HUB_OFFLINE: "YES",
    });
    assert.deepEqual(e, { cacheDir: "/c", endpoint: "http://mirror", token: "hf_env", offline: true });
    assert.equal(hubEnv({ HUGGINGFACE_HUB_CACHE: "/legacy", XDG_CACHE_HOME: "/x" }).cacheDir, "/legacy");
    assert.equal(hubEnv({ XDG_CACHE_HOME: "/x", HF_TOKEN_PATH: "/none" }).cacheDir, "/x/huggingface/hub");
    assert.equal(hubEnv({ HF_HUB_OFFLINE: "0", HF_TOKEN_PATH: "/none" }).offline, false);
  });

  it("a local path is returned as it is", async () => {
    assert.equal(await resolveModelSource("runs/emoji"), "runs/emoji");
  });
});

describe("hf: names through a Hub on 127.0.0.1", () => {
  let hub: FakeHub;
  let files: Record<string, Buffer>;
  let first: string;
  const env = (cache: string, extra: Record<string, string> = {}) => ({
    HF_HUB_CACHE: cache,
    HF_ENDPOINT: hub.endpoint,
    HF_TOKEN_PATH: "/nonexistent",
    ...extra,
  });

  before(async () => {
    hub = await new FakeHub().start();
    files = repoFiles();
    first = hub.commit(REPO, files);
  });
  after(() => hub.stop());

  it("downloads only the model's files into the Python cache layout, then opens it", async () => {
    const cache = tempDir();
    const bar = new Captured();
    hub.log.length = 0;
    const dir = await resolveModelSource(`hf:${REPO}`, { env: env(cache), progress: bar });
    const repoDir = join(cache, "models--test-org--tiny-clip");
    assert.equal(dir, join(repoDir, "snapshots", first));
    assert.equal(readFileSync(join(repoDir, "refs", "main"), "utf8"), first);
    assert.deepEqual(readdirSync(dir).sort(), ["juxta.json", "model.safetensors", "tokenizer.json"]);
    for (const f of readdirSync(dir)) {
      const content = files[f] as Buffer;
      const etag = f.endsWith(".safetensors") ? sha256(content) : gitSha1(content);
      assert.ok(lstatSync(join(dir, f)).isSymbolicLink(), `${f} is a link`);
      assert.equal(readlinkSync(join(dir, f)), join("..", "..", "blobs", etag));
      assert.deepEqual(readFileSync(join(dir, f)), content);
    }
    assert.deepEqual(readdirSync(join(repoDir, "blobs")).length, 3);
    const fetched = hub.log.map((l) => l.path);
    assert.ok(!fetched.some((p) => /pytorch_model|tf_model|README/.test(p)), fetched.join("\n"));
    // The weights come from the blob host, after a redirect the client followed itself.
    assert.deepEqual(
      hub.requests("blobs", "GET").map((l) => l.path.split("?")[0]),
      [`/blobs/${sha256(files["model.safetensors"] as Buffer)}`],
    );
    assert.match(bar.text, /download hf:test-org\/tiny-clip +\[#{20}\] [\d.]+ MB\/[\d.]+ MB 100%/);
    const loaded = loadClipModel(dir);
    assert.equal(loaded.model.cfg.embedDim, 16);
  });

  it("a cached model is not downloaded again; offline it touches no network at all", async () => {
    const cache = tempDir();
    await resolveModelSource(`hf:${REPO}`, { env: env(cache), progress: false });
    hub.log.length = 0;
    const again = await resolveModelSource(`hf:${REPO}`, { env: env(cache), progress: false });
    assert.deepEqual(
      hub.log.map((l) => `${l.method} ${l.path}`),
      [`GET /api/models/${REPO}/revision/main`],
      "only the revision is looked up",
    );
    hub.log.length = 0;
    const offline = await resolveModelSource(`hf:${REPO}`, { env: env(cache, { HF_HUB_OFFLINE: "1" }) });
    assert.equal(offline, again);
    const pinned = await resolveModelSource(`hf:${REPO}@${first}`, { env: env(cache) });
    assert.equal(pinned, again);
    assert.equal(hub.log.length, 0, "a cached commit and offline mode make no request");
  });

  it("a branch moved to a new commit: only the changed files are fetched, the old snapshot stays", async () => {
    const cache = tempDir();
    const repo = "test-org/moving";
    const v1 = hub.commit(repo, files);
    const old = await resolveModelSource(`hf:${repo}`, { env: env(cache), progress: false });
    const changed = {
      ...files,
      "juxta.json": Buffer.from(`${files["juxta.json"]?.toString().trimEnd()}\n\n`),
    };
    const v2 = hub.commit(repo, changed);
    hub.log.length = 0;
    const now = await resolveModelSource(`hf:${repo}`, { env: env(cache), progress: false });
    assert.equal(now, join(cache, "models--test-org--moving", "snapshots", v2));
    assert.equal(readFileSync(join(cache, "models--test-org--moving", "refs", "main"), "utf8"), v2);
    assert.deepEqual(readFileSync(join(now, "juxta.json")), changed["juxta.json"]);
    assert.deepEqual(hub.requests("blobs"), [], "model.safetensors is the same blob: not fetched again");
    assert.deepEqual(
      hub.requests("hub", "GET").map((l) => l.path),
      [`/api/models/${repo}/revision/main`, `/${repo}/resolve/${v2}/juxta.json`],
    );
    assert.equal(old, join(cache, "models--test-org--moving", "snapshots", v1));
    assert.ok(existsSync(join(old, "juxta.json")));
  });

  it("a transfer cut in the middle resumes with a Range request and is verified", async () => {
    const cache = tempDir();
    const weights = files["model.safetensors"] as Buffer;
    hub.cutOnce.add(sha256(weights));
    hub.log.length = 0;
    const dir = await resolveModelSource(`hf:${REPO}`, { env: env(cache), progress: false });
    const gets = hub.requests("blobs", "GET");
    assert.equal(gets.length, 2);
    assert.equal(gets[0]?.range, undefined);
    assert.match(gets[1]?.range ?? "", /^bytes=[1-9]\d*-$/);
    assert.deepEqual(readFileSync(join(dir, "model.safetensors")), weights);
  });

  it("resumes what a killed process left in blobs/<etag>.incomplete", async () => {
    const cache = tempDir();
    const weights = files["model.safetensors"] as Buffer;
    const blobs = join(cache, "models--test-org--tiny-clip", "blobs");
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, 1000));
    hub.log.length = 0;
    const dir = await resolveModelSource(`hf:${REPO}`, { env: env(cache), progress: false });
    assert.deepEqual(
      hub.requests("blobs", "GET").map((l) => l.range),
      ["bytes=1000-"],
    );
    assert.deepEqual(readFileSync(join(dir, "model.safetensors")), weights);
    assert.ok(!existsSync(join(blobs, `${sha256(weights)}.incomplete`)));
  });

  it("bytes that do not match the etag are refused and removed", async () => {
    const cache = tempDir();
    const repo = "test-org/corrupt";
    const f = repoFiles(1);
    hub.commit(repo, f);
    const sha = sha256(f["model.safetensors"] as Buffer);
    hub.corrupt.add(sha);
    await assert.rejects(
      resolveModelSource(`hf:${repo}`, { env: env(cache), progress: false }),
      /model.safetensors: the downloaded bytes do not match the Hub's checksum \(expected [0-9a-f]{64}/,
    );
    const blobs = join(cache, "models--test-org--corrupt", "blobs");
    assert.ok(!readdirSync(blobs).some((b) => b.startsWith(sha)), "no bad blob is kept");
    hub.corrupt.delete(sha);
  });

  it("gated models need HF_TOKEN, which goes to the Hub and never to the blob host", async () => {
    const cache = tempDir();
    const repo = "test-org/gated";
    hub.commit(repo, files, { token: "hf_secret" });
    await assert.rejects(
      resolveModelSource(`hf:${repo}`, { env: env(cache), progress: false }),
      /gated or private \(HTTP 401\); accept its terms at http:\/\/127\.0\.0\.1:\d+\/test-org\/gated, then set HF_TOKEN/,
    );
    await assert.rejects(
      resolveModelSource(`hf:${repo}`, { env: env(cache, { HF_TOKEN: "hf_wrong" }), progress: false }),
      /refused your token \(HTTP 403\)/,
    );
    hub.log.length = 0;
    const dir = await resolveModelSource(`hf:${repo}`, {
      env: env(cache, { HF_TOKEN: "hf_secret" }),
      progress: false,
    });
    assert.ok(existsSync(join(dir, "model.safetensors")));
    assert.ok(hub.requests("hub", "HEAD").every((l) => l.auth === "Bearer hf_secret"));
    assert.ok(hub.requests("blobs").length > 0 && hub.requests("blobs").every((l) => l.auth === undefined));
  });

  it("unknown repos, revisions and pickle-only repos say so; renamed repos are followed", async () => {
    const o = { env: env(tempDir()), progress: false } as const;
    await assert.rejects(
      resolveModelSource("hf:nobody/nothing", o),
      /hf:nobody\/nothing: no such model on the Hub/,
    );
    await assert.rejects(resolveModelSource(`hf:${REPO}@v9`, o), /no revision 'v9'/);
    hub.commit("test-org/pickles", {
      "config.json": Buffer.from("{}"),
      "pytorch_model.bin": Buffer.from("x"),
    });
    await assert.rejects(
      resolveModelSource("hf:test-org/pickles", o),
      /only PyTorch pickle weights \(pytorch_model.bin\); Juxta reads safetensors only/,
    );
    hub.renamed.set("old-org/tiny-clip", REPO);
    const dir = await resolveModelSource("hf:old-org/tiny-clip", o);
    assert.deepEqual(readdirSync(dir).sort(), ["juxta.json", "model.safetensors", "tokenizer.json"]);
  });

  it("no network and no cached copy: one line saying which files to put where", async () => {
    const cache = tempDir();
    const nowhere = await deadEndpoint();
    const dead = { HF_HUB_CACHE: cache, HF_ENDPOINT: nowhere, HF_TOKEN_PATH: "/none" };
    const err = await resolveModelSource(`hf:${REPO}`, { env: dead, progress: false }).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(
      err.message,
      /^hf:test-org\/tiny-clip is not in the Hugging Face cache .* and the Hub cannot be used \(cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\): put config\.json, model\.safetensors and tokenizer\.json .* into one folder and pass that folder/,
    );
    const offline = await resolveModelSource(`hf:${REPO}`, { env: { ...dead, HF_HUB_OFFLINE: "1" } }).catch(
      (e: Error) => e,
    );
    assert.match((offline as Error).message, /\(HF_HUB_OFFLINE is set\)/);
    // With a cached copy, an unreachable Hub falls back to it and says so.
    await resolveModelSource(`hf:${REPO}`, { env: env(cache), progress: false });
    const note = new Captured();
    const dir = await resolveModelSource(`hf:${REPO}`, { env: dead, progress: note });
    assert.equal(dir, join(cache, "models--test-org--tiny-clip", "snapshots", first));
    assert.match(note.text, /ECONNREFUSED\); using the cached copy of hf:test-org\/tiny-clip/);
  });

  it("juxta classify --model hf:… downloads through HF_ENDPOINT and classifies", async () => {
    const cache = tempDir();
    const img = await colourImages(tempDir());
    const main = join(projectRoot, "dist", "src", "cli", "main.js");
    // Asynchronously: the stand-in Hub answers from this process's event loop.
    const r = await promisify(execFile)(
      process.execPath,
      [main, "classify", "--model", `hf:${REPO}`, "--labels", "red,blue", "--json", join(img, "red.png")],
      { encoding: "utf8", env: { ...process.env, ...env(cache) } },
    );
    const [result] = JSON.parse(r.stdout) as { ranked: { label: string }[] }[];
    assert.deepEqual(result?.ranked.map((s) => s.label).sort(), ["blue", "red"]);
    assert.match(r.stderr, /download hf:test-org\/tiny-clip/);
    assert.ok(existsSync(join(cache, "models--test-org--tiny-clip", "refs", "main")));
  });
});

describe("caches filled by Python's huggingface_hub, opened offline", () => {
  /** Lays out files exactly as hf_hub_download does: blobs by etag, relative links, refs/<branch>. */
  function pythonCache(repo: string, snapshot: Record<string, Buffer>): { cache: string; commit: string } {
    const cache = tempDir();
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const root = join(cache, `models--${repo.replace("/", "--")}`);
    for (const [file, content] of Object.entries(snapshot)) {
      const etag = /\.safetensors$/.test(file) ? sha256(content) : gitSha1(content);
      mkdirSync(join(root, "blobs"), { recursive: true });
      writeFileSync(join(root, "blobs", etag), content);
      mkdirSync(join(root, "snapshots", commit), { recursive: true });
      symlinkSync(join("..", "..", "blobs", etag), join(root, "snapshots", commit, file));
    }
    mkdirSync(join(root, "refs"), { recursive: true });
    writeFileSync(join(root, "refs", "main"), commit);
    return { cache, commit };
  }

  it("a Juxta model in that layout opens with HF_HUB_OFFLINE=1 and no server", async () => {
    const f = repoFiles();
    const { cache, commit } = pythonCache(REPO, {
      "juxta.json": f["juxta.json"] as Buffer,
      "model.safetensors": f["model.safetensors"] as Buffer,
      "tokenizer.json": f["tokenizer.json"] as Buffer,
    });
    const dir = await resolveModelSource(`hf-hub:${REPO}`, {
      env: { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1", HF_ENDPOINT: await deadEndpoint() },
    });
    assert.ok(dir.endsWith(join("snapshots", commit)));
    assert.equal(loadClipModel(dir).model.cfg.embedDim, 16);
  });

  it("OpenAI's CLIP structure (../shared/data/clip-tiny) from the cache matches OpenCLIP's outputs", {
    skip: needsShared("clip-tiny") || needsShared("clip-bpe"),
  }, async () => {
    const tiny = join(sharedData, "clip-tiny");
    const read = (f: string) => readFileSync(join(tiny, f));
    const { cache } = pythonCache("openai/clip-tiny", {
      "config.json": read("config.json"),
      "model.safetensors": read("model.safetensors"),
      "bpe_simple_vocab_16e6.txt.gz": readFileSync(
        join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz"),
      ),
    });
    const dir = await resolveModelSource("hf:openai/clip-tiny", {
      env: { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" },
    });
    const loaded = loadClipModel(dir);
    const io = readSafetensors(join(tiny, "io.safetensors")).tensors;
    const enc = await ClipEncoders.create(loaded.model);
    const img = await enc.encodeImages(io.get("pixel_values")?.data as Float32Array);
    await enc.release();
    const want = io.get("image_embeds")?.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++)
      worst = Math.max(worst, Math.abs((img[i] as number) - (want[i] as number)));
    assert.ok(worst < 1e-4, `image embeddings differ by ${worst}`);
  });
});
