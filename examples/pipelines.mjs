// Open a model once and use it many times: zero-shot classification (models with a text tower), image
// embeddings (every model, image-only encoders included) and text embeddings.
// Usage: node examples/pipelines.mjs MODEL_DIR IMAGE [IMAGE…]
import { openModel, pipeline } from "juxta";

const [modelDir, ...images] = process.argv.slice(2);
const model = await openModel(modelDir); // nothing is compiled yet
console.log(`${modelDir}: ${model.family}, ${model.dim}-d, can do ${model.tasks.join(", ")}`);

const embed = await pipeline("image-feature-extraction", model);
const features = await embed(images); // compiles the image tower once
console.log(`image embeddings: [${features.dims.join(", ")}]`);

if (model.hasText) {
  const classify = await pipeline("zero-shot-image-classification", model);
  const labels = ["cat", "pizza", "rocket"];
  for (const image of images) {
    // The labels' prompts are embedded on the first call only; later calls reuse them.
    const [best] = await classify(image, labels);
    console.log(`${image}: ${best.label} (${(100 * best.score).toFixed(1)}%)`);
  }
  const texts = await pipeline("feature-extraction", model);
  console.log(`text embeddings: [${(await texts(labels)).dims.join(", ")}]`);
}
await model.dispose(); // releases the compiled sessions
