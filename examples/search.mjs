// Embed a folder of images with a trained model (a Juxta run, or a Hugging Face / OpenCLIP folder) and
// search it by text. Usage: node examples/search.mjs MODEL_DIR IMAGE_DIR "a red fruit"
import { Embedder, listImages, openModel, VectorIndex } from "juxta";

const [modelDir, imageDir, query] = process.argv.slice(2);
const clip = openModel(modelDir);
const embedder = await Embedder.create(clip);
const images = await listImages(imageDir);
const index = VectorIndex.create(embedder.dim);
index.add(images.map((im) => im.id), await embedder.embedImages(images.map((im) => im.ref)));
const hits = index.search(await embedder.embedTexts([query]), 5);
for (const hit of hits) console.log(hit.score.toFixed(3), hit.id);
await embedder.release();
