// Train a tiny CLIP on the emoji set for two minutes and evaluate it on held-out emoji, through the API.
// Run from the project root after `npm install`: node examples/train-and-eval.mjs
import { buildEmojiDataset, evaluateClip, formatEval, loadClip, trainClip } from "juxta";

await buildEmojiDataset("examples-out/emoji");
await trainClip({ data: "examples-out/emoji/train.jsonl", out: "examples-out/run", preset: "tiny", minutes: 2 });
const model = loadClip("examples-out/run");
const result = await evaluateClip(model, "examples-out/emoji/test.jsonl");
console.log(formatEval(result, "held-out emoji"));
