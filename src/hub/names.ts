/**
 * Hub model names as users write them: `hf:org/name`, `hf:org/name@revision` (a branch, tag or commit),
 * and OpenCLIP's `hf-hub:org/name` spelling of the same thing.
 */
import { UserError } from "../util/errors.js";

export interface HubName {
  /** `org/name` (or a bare legacy name such as `gpt2`). */
  repo: string;
  /** Branch, tag or 40-hex commit; `main` when the name has no `@`. */
  revision: string;
  /** The name as written, for messages. */
  source: string;
}

const PREFIXES = ["hf:", "hf-hub:"] as const;
/** One or two path parts, each as the Hub allows them (letters, digits, `-`, `_`, `.`; no `--` or `..`). */
const REPO = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
export const COMMIT = /^[0-9a-f]{40}$/;

export function isHubName(source: string): boolean {
  return PREFIXES.some((p) => source.startsWith(p));
}

export function parseHubName(source: string): HubName {
  const prefix = PREFIXES.find((p) => source.startsWith(p));
  if (!prefix) throw new UserError(`'${source}' is not a Hub name (expected hf:org/name[@revision])`);
  const rest = source.slice(prefix.length);
  const at = rest.indexOf("@");
  const repo = at < 0 ? rest : rest.slice(0, at);
  const revision = at < 0 ? "main" : rest.slice(at + 1);
  if (!REPO.test(repo) || repo.includes("--") || repo.includes(".."))
    throw new UserError(
      `${source}: '${repo}' is not a Hub model id (expected org/name, e.g. hf:openai/clip-vit-base-patch32)`,
    );
  if (revision === "" || revision.includes("..") || revision.startsWith("/"))
    throw new UserError(`${source}: '${revision}' is not a revision (a branch, tag or commit after '@')`);
  return { repo, revision, source };
}
