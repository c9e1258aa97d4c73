/**
 * The PyTorch peer (`../shared/bench/peer/clip_torch.py`), run in a child process so that its time and peak
 * memory are measured in the same benchmark run as Juxta's.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise some recent AVX-512 CPUs: on a Xeon it fell back to its
 * slowest ("Prescott") kernels, which made the peer 3-4x slower than it should be. On CPUs with AVX-512 we
 * name the kernel family it should pick (OPENBLAS_CORETYPE=SkylakeX; on an AMD EPYC, where it detects
 * "Cooperlake", both measured the same), so that Juxta is compared with PyTorch at its best, not with a
 * misconfigured PyTorch. A caller's own OPENBLAS_CORETYPE is kept.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot, sharedDir } from "../util/paths.js";

const PYTHON = "/usr/bin/python3";
export const PEER_SCRIPT = join(sharedDir, "bench", "peer", "clip_torch.py");
/**
 * The peer's towers in the modes its script lacks (PyTorch's dynamic int8, b32 shapes, given token ids): the
 * project's own addition to the peer.
 */
export const PEER_EMBED_SCRIPT = join(projectRoot, "src", "bench", "peer_embed.py");

export interface PeerResult {
  [key: string]: unknown;
  peak_rss_mb: number;
}

/** Why the peer cannot run here, or undefined when it can. */
export function peerUnavailable(): string | undefined {
  if (!existsSync(PEER_SCRIPT)) return `${PEER_SCRIPT} is absent`;
  if (!existsSync(PYTHON)) return `${PYTHON} is absent`;
  try {
    execFileSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" });
  } catch {
    return "python3-torch is not installed (apt-get install -y python3-torch libopenblas0-openmp)";
  }
  return undefined;
}

function hasAvx512(): boolean {
  try {
    return /\bavx512f\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

/** Run clip_torch.py with these arguments; returns its JSON line plus its peak RSS. */
export function runPeer(args: string[], threads = 2, script = PEER_SCRIPT): PeerResult {
  // Wrap the script so that the child reports its own peak RSS (ru_maxrss, kB on Linux).
  const wrapper = [
    "import json, resource, runpy, sys, io, contextlib",
    `sys.argv = ${JSON.stringify([script, ...args, "--threads", String(threads)])}`,
    "buf = io.StringIO()",
    "with contextlib.redirect_stdout(buf):",
    `    runpy.run_path(${JSON.stringify(script)}, run_name='__main__')`,
    "out = json.loads(buf.getvalue().strip().splitlines()[-1])",
    "out['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)",
    "print(json.dumps(out))",
  ].join("\n");
  const env = { ...process.env };
  if (!env.OPENBLAS_CORETYPE && hasAvx512()) env.OPENBLAS_CORETYPE = "SkylakeX";
  const stdout = execFileSync(PYTHON, ["-c", wrapper], { env, encoding: "utf8", maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout.trim().split("\n").pop() as string) as PeerResult;
  if (env.OPENBLAS_CORETYPE) result.openblas_coretype = env.OPENBLAS_CORETYPE;
  return result;
}
