// Embed a folder of images with a trained model (a Juxta run of any method, or a Hugging Face / OpenCLIP
// folder) and search it: by text, or by an image for image-only encoders (SimCLR, MoCo, …).
// Usage: node examples/search.mjs MODEL_DIR IMAGE_DIR "a red fruit"   (or an image path as the query)
import { existsSync } from "node:fs";
import { listImages, pipeline } from "juxta";

const [modelDir, imageDir, query] = process.argv.slice(2);
const search = await pipeline("retrieval", modelDir);
const images = await listImages(imageDir);
await search.add(
  images.map((im) => im.ref),
  images.map((im) => im.id),
);
const hits = await search(existsSync(query) ? { image: query } : query, { k: 5 });
for (const hit of hits) console.log(hit.score.toFixed(3), hit.id);
await search.dispose();
