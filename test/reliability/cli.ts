/**
 * Runs the built CLI (dist/src/cli/main.js) in a child process, the way a user does, under a wall-clock
 * limit: a hang or a crash is an observable outcome (signal, status), not a frozen test run.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../helpers.js";

export const MAIN = join(projectRoot, "dist", "src", "cli", "main.js");

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether the limit killed it (a hang). */
  timedOut: boolean;
}

export function juxta(
  args: string[],
  opts: {
    cwd?: string;
    input?: string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    nodeArgs?: string[];
  } = {},
): CliResult {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), MAIN, ...args], {
    cwd: opts.cwd,
    input: opts.input,
    timeout: opts.timeoutMs ?? 60_000,
    encoding: "utf8",
    env: opts.env ?? process.env,
    maxBuffer: 16 << 20,
  });
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    timedOut: (r.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT",
  };
}

/** A failure the user can read: exit status 1 and exactly one line on stderr, starting "juxta: ". */
export function assertOneLineError(r: CliResult, pattern: RegExp): void {
  const lines = r.stderr.trimEnd().split("\n");
  if (r.timedOut) throw new Error(`hung (killed after the limit); stderr: ${r.stderr.slice(0, 500)}`);
  if (r.status !== 1 || lines.length !== 1 || !lines[0]!.startsWith("juxta: ") || !pattern.test(lines[0]!))
    throw new Error(
      `expected status 1 and one line matching ${pattern}, got status ${r.status} signal ${r.signal}:\n` +
        r.stderr.slice(0, 2000),
    );
}
