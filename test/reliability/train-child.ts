/**
 * A tiny training run in its own process, for the tests that kill, signal or starve a trainer (strace,
 * SIGTERM, a full disk): `node train-child.js '<options as JSON>'` trains a 16 px, one-layer CLIP (or an
 * image method, with "method") with the library's train() and prints its result as one JSON line.
 * Errors are one line on stderr and exit status 1, as the CLI's.
 */
import { train } from "../../src/train/loop.js";
import type { TrainOptions } from "../../src/train/options.js";
import { UserError } from "../../src/util/errors.js";
import { CHILD_CONFIG, CHILD_ENCODER } from "./train-fixtures.js";

if (process.argv[2] !== undefined) {
  const given = JSON.parse(process.argv[2]) as Record<string, unknown>;
  const image = given.method !== undefined && given.method !== "clip" && given.method !== "siglip";
  const shape = given.resume ? {} : image ? { encoder: CHILD_ENCODER } : { config: CHILD_CONFIG };
  const opts = { workers: 0, stream: process.stderr, ...shape, ...given } as unknown as TrainOptions;
  train(opts)
    .then((r) => {
      process.stdout.write(
        `${JSON.stringify({ steps: r.steps, losses: r.losses, interrupted: r.interrupted })}\n`,
      );
    })
    .catch((e: unknown) => {
      if (!(e instanceof UserError)) throw e;
      process.stderr.write(`juxta: ${e.message}\n`);
      process.exit(1);
    });
}
