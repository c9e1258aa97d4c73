/**
 * Where the Hugging Face cache is and how to reach the Hub, read from the same variables, in the same order,
 * as Python's huggingface_hub, so that Juxta and Python share one cache.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface HubEnv {
  /** The hub cache: `$HF_HUB_CACHE`, `$HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub` or `~/.cache/huggingface/hub`. */
  cacheDir: string;
  /** `$HF_ENDPOINT` without a trailing slash, default `https://huggingface.co`. */
  endpoint: string;
  /** `$HF_TOKEN`, `$HUGGING_FACE_HUB_TOKEN`, or the token file huggingface-cli login writes. */
  token?: string;
  /** `$HF_HUB_OFFLINE` set to 1/true/yes/on: never touch the network. */
  offline: boolean;
}

const TRUE = new Set(["1", "true", "yes", "on"]);

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const set = (name: string) => (env[name] ? env[name] : undefined);
  const hfHome = set("HF_HOME") ?? join(set("XDG_CACHE_HOME") ?? join(homedir(), ".cache"), "huggingface");
  const cacheDir = set("HF_HUB_CACHE") ?? set("HUGGINGFACE_HUB_CACHE") ?? join(hfHome, "hub");
  const endpoint = (set("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
  const tokenFile = set("HF_TOKEN_PATH") ?? join(hfHome, "token");
  const token =
    set("HF_TOKEN") ??
    set("HUGGING_FACE_HUB_TOKEN") ??
    (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() || undefined : undefined);
  const offline = TRUE.has((env.HF_HUB_OFFLINE ?? "").toLowerCase());
  return { cacheDir, endpoint, ...(token ? { token } : {}), offline };
}
