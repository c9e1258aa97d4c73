// node scripts/scale/bench-accum.mjs BATCH ACCUM STEPS [DATA]: STEPS steps of the tiny preset on the emoji set
// (juxta data emoji --out data/emoji), run under /usr/bin/time -v for the peak RSS (docs/scale.md)

import { rmSync } from "node:fs";
import { trainClip } from "../../dist/src/train/loop.js";

const [batch, accum, steps] = process.argv.slice(2).map(Number);
const out = `runs/bench-accum-${batch}-${accum}`;
rmSync(out, { recursive: true, force: true });
const r = await trainClip({
  data: process.argv[5] ?? "data/emoji/train.jsonl",
  out,
  batch,
  accumFreq: accum,
  epochs: 1,
  stopAfter: steps,
  stream: { write: () => true },
});
const perStep = r.trainSeconds / r.steps;
console.log(
  JSON.stringify({
    batch,
    accum,
    pairsPerStep: batch * accum,
    steps: r.steps,
    secondsPerStep: +perStep.toFixed(2),
    pairsPerSec: +((batch * accum) / perStep).toFixed(1),
    setupSeconds: r.setupSeconds,
  }),
);
