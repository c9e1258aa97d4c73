// Near-duplicates across the emoji set's two artists: each emoji is drawn once by Google and once by
// Twitter, so a good threshold groups the two drawings of the same emoji and nothing else. For each
// threshold: the groups found, how many same-emoji pairs share a group, and how many groups mix emoji.
//
//   juxta index --model RUN --images all.txt --index emoji.index     # every image of both artists
//   node examples/dedup-artists.mjs emoji.index 0.99 0.995 0.999
import { basename } from "node:path";
import { VectorIndex, dedupVectors } from "juxta";

const [dir, ...thresholds] = process.argv.slice(2);
if (!dir || thresholds.length === 0) {
  console.error("usage: node examples/dedup-artists.mjs INDEX THRESHOLD...");
  process.exit(1);
}
const index = VectorIndex.load(dir);
const { ids, vectors } = index.entries();
// The emoji a drawing shows: its file name (codepoints), the same for both artists.
const emojiOf = (id) => basename(id).replace(/\.png$/, "");
const twins = new Set(ids.map(emojiOf)).size;
for (const t of thresholds.map(Number)) {
  const { groups, counts } = dedupVectors(ids, vectors, index.dim, { threshold: t });
  let paired = 0;
  let mixed = 0;
  for (const g of groups) {
    const emoji = g.ids.map(emojiOf);
    const distinct = new Set(emoji);
    paired += [...distinct].filter((e) => emoji.indexOf(e) !== emoji.lastIndexOf(e)).length;
    if (distinct.size > 1) mixed++;
  }
  console.log(
    `threshold ${t}: ${counts.groups} groups holding ${counts.grouped} of ${counts.items} images; ` +
      `same-emoji pairs in one group ${paired} of ${twins}; groups mixing emoji ${mixed}`,
  );
}
