// A labeled moderation set from the emoji data (juxta quickstart's data/ folder): a "weapons, drugs,
// alcohol and tobacco" policy for a children's app, labels from the emoji's codepoints (named by emojibase),
// Google's drawings to fit thresholds on and Twitter's held out.
//
//   node examples/moderation-emoji.mjs juxta-quickstart/data moderation/
//   → moderation/policy.json (starting thresholds) and moderation/labeled.jsonl
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadPolicy } from "juxta";

const [data = "juxta-quickstart/data", out = "moderation"] = process.argv.slice(2);

/** Each concept: its prompts and the emoji (codepoints) that show it. */
const CONCEPTS = {
  weapons: {
    prompts: ["pistol", "gun", "knife", "dagger", "crossed swords", "bomb", "bow and arrow", "axe"],
    emoji: ["1F52B", "1F52A", "1F5E1-FE0F", "2694-FE0F", "1F4A3", "1F3F9", "1FA93"],
    action: "block",
  },
  drugs: { prompts: ["syringe", "pill", "drugs", "medicine"], emoji: ["1F489", "1F48A"], action: "review" },
  alcohol: {
    prompts: ["beer", "wine glass", "cocktail", "sake", "whisky", "alcohol", "clinking glasses"],
    emoji: ["1F376", "1F37E", "1F377", "1F378", "1F379", "1F37A", "1F37B", "1F942", "1F943"],
    action: "review",
  },
  tobacco: { prompts: ["cigarette", "smoking"], emoji: ["1F6AC"], action: "block" },
};

const rows = ["train.jsonl", "test.jsonl"].flatMap((f) =>
  readFileSync(join(data, f), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l)),
);
const labeled = rows.map((r) => ({
  image: r.image,
  // Training rows hold several captions (a list); a labeled row needs one.
  text: Array.isArray(r.text) ? r.text[0] : r.text,
  labels: Object.entries(CONCEPTS)
    .filter(([, c]) => c.emoji.includes(r.emoji))
    .map(([name]) => name),
  split: r.style === "google" ? "fit" : "heldout",
  emoji: r.emoji,
}));
const policy = {
  name: "children's app: weapons, drugs, alcohol, tobacco",
  templates: "emoji",
  concepts: Object.entries(CONCEPTS).map(([name, c]) => ({
    name,
    prompts: c.prompts,
    threshold: 0.3,
    action: c.action,
  })),
  allow: [{ name: "cutlery", prompts: ["fork and knife"], threshold: 0.3, clears: ["weapons"] }],
  caption: { threshold: 0.1, action: "review" },
};
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "labeled.jsonl"), labeled.map((r) => `${JSON.stringify(r)}\n`).join(""));
writeFileSync(join(out, "policy.json"), `${JSON.stringify(policy, null, 2)}\n`);
loadPolicy(join(out, "policy.json")); // the policy it wrote is valid
const positives = labeled.filter((r) => r.labels.length > 0);
console.log(
  `${labeled.length} examples (${positives.filter((r) => r.split === "fit").length} positive to fit on, ` +
    `${positives.filter((r) => r.split === "heldout").length} held out); wrote ${out}/policy.json and ${out}/labeled.jsonl`,
);
