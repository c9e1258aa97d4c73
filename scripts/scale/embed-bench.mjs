// node scripts/scale/embed-bench.mjs MODEL SHARDS (stream|memory): embed every image of the shards, print images/s
// stream: juxta embed's path (embedInputs streams .tar shards); memory: the in-memory reader (listImages) then the same handle
import { embedInputs } from "../../dist/src/apps/embed.js";
import { listImages } from "../../dist/src/data/image-set.js";
import { SkipLog } from "../../dist/src/data/types.js";
import { openModel } from "../../dist/src/handle/open.js";

const [model, shards, mode] = process.argv.slice(2);
const handle = await openModel(model);
const t = performance.now();
let n;
if (mode === "stream")
  n = (await embedInputs(handle, { images: shards, log: new SkipLog() })).image.ids.length;
else {
  const items = await listImages(shards, { log: new SkipLog() });
  n = (await handle.embedImagesSkipping(items.map((i) => i.ref))).kept.length;
}
const s = (performance.now() - t) / 1000;
console.log(JSON.stringify({ mode, images: n, seconds: +s.toFixed(1), imagesPerSec: +(n / s).toFixed(0) }));
await handle.dispose();
