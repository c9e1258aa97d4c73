/** Contrastive and metric-learning losses, one per module (see each module's doc comment). */
export { clipLoss } from "./clip.js";
export { contrastiveLoss, marginContrastiveLoss } from "./contrastive.js";
export { labelMasks } from "./masks.js";
export { mineBatchHard, mineTriplets, type TripletMiner } from "./miners.js";
export { mocoLoss, Queue } from "./moco.js";
export { ntxentLoss } from "./ntxent.js";
export { SIGLIP_INIT, siglipLoss } from "./siglip.js";
export { type Distance, distance, type Similarity, similarity } from "./similarity.js";
export { supConLoss } from "./supcon.js";
export { type TripletOptions, tripletMarginLoss } from "./triplet.js";
