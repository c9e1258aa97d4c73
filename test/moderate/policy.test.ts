/** Policy files: validated with the line, column and field path of each mistake; hashed by content. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseLocatedJson } from "../../src/moderate/located-json.js";
import { loadPolicy, parsePolicy, policyHash, validatePolicy } from "../../src/moderate/policy.js";
import { tempDir } from "../apps/fixtures.js";

const GOOD = `{
  "name": "kids",
  "templates": "emoji",
  "concepts": [
    { "name": "weapons", "prompts": ["pistol", "knife"], "threshold": 0.24, "action": "block" },
    { "name": "minors", "prompts": ["child"], "threshold": 0.3, "specialCare": true }
  ],
  "allow": [{ "name": "toys", "prompts": ["water pistol"], "threshold": 0.3, "clears": ["weapons"] }],
  "caption": { "threshold": 0.1 }
}
`;

/** Replace `from` in the good policy with `to` and return the error message. */
function errorOf(from: string, to: string): string {
  assert.ok(GOOD.includes(from), `fixture holds ${from}`);
  try {
    parsePolicy(GOOD.replace(from, to), "p.json");
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`no error for ${to}`);
}

describe("moderation policies", () => {
  it("reads a good policy", () => {
    const { policy, hash } = parsePolicy(GOOD, "p.json");
    assert.equal(policy.concepts.length, 2);
    assert.equal(policy.concepts[1]?.specialCare, true);
    assert.equal(policy.concepts[1]?.action, undefined);
    assert.deepEqual(policy.allow?.[0]?.clears, ["weapons"]);
    assert.equal(policy.caption?.threshold, 0.1);
    assert.match(hash, /^[0-9a-f]{64}$/);
  });

  it("names file, line, column and field of each mistake", () => {
    assert.equal(
      errorOf('"threshold": 0.24', '"threshold": "high"'),
      `p.json:5:58 (concepts[0].threshold): expected a number, got "high"`,
    );
    assert.equal(
      errorOf('"threshold": 0.24', '"treshold": 0.24'),
      "p.json:5:58 (concepts[0].treshold): unknown field 'treshold' (did you mean 'threshold'?); a concept takes " +
        "name, prompts, templates, examples, head, threshold, action, specialCare, calibration, description",
    );
    assert.equal(
      errorOf('"action": "block"', '"action": "ban"'),
      'p.json:5:77 (concepts[0].action): expected one of flag, review, block, got "ban"',
    );
    assert.equal(
      errorOf(', "action": "block"', ""),
      "p.json:5:5 (concepts[0]): concept 'weapons' needs an 'action' (flag, review, block)",
    );
    assert.equal(
      errorOf('"clears": ["weapons"]', '"clears": ["weapon"]'),
      "p.json:8:89 (allow[0].clears[0]): no concept named 'weapon' (the concepts are weapons, minors)",
    );
    assert.equal(
      errorOf('"prompts": ["child"], ', ""),
      "p.json:6:5 (concepts[1]): a concept 'minors' needs 'prompts', 'examples' or a trained 'head' to score images with",
    );
    assert.equal(
      errorOf('"threshold": 0.3, "specialCare"', '"threshold": 3, "specialCare"'),
      "p.json:6:47 (concepts[1].threshold): expected a number from -1 to 1, got 3",
    );
    assert.equal(
      errorOf('"name": "minors"', '"name": "weapons"'),
      "p.json:6:7 (concepts[1].name): the name 'weapons' is already used by concepts[0]",
    );
    assert.equal(
      errorOf('"templates": "emoji"', '"templates": ["an emoji"]'),
      "p.json:3:17 (templates[0]): a template needs '{}' where the prompt goes, got 'an emoji'",
    );
    assert.equal(
      errorOf('"prompts": ["pistol", "knife"]', '"prompts": []'),
      "p.json:5:26 (concepts[0].prompts): expected a non-empty list of strings, got an empty list",
    );
  });

  it("reports JSON syntax errors with line and column", () => {
    assert.equal(
      errorOf('"threshold": 0.24,', '"threshold": 0.24,,'),
      "p.json:5:76: invalid JSON: expected a field name in double quotes, got ','",
    );
    assert.equal(
      errorOf("\n}\n", "\n"),
      "p.json:10:1: invalid JSON: expected ',' or '}' after field 'caption', got the end of the file",
    );
    assert.throws(
      () => parseLocatedJson('{"a": 1, "a": 2}', "x"),
      /x:1:10: invalid JSON: field 'a' appears twice/,
    );
    assert.throws(() => parseLocatedJson('{"a": 01}', "x"), /x:1:8: invalid JSON: expected ',' or '}'/);
    // The parser agrees with JSON.parse on what it accepts.
    const text = '{"s": "a\\u00e9\\n\\"", "n": [-1.5e3, 0, true, false, null], "o": {}}';
    assert.deepEqual(parseLocatedJson(text, "x").value, JSON.parse(text));
  });

  it("validates policies made in code, and hashes by content not layout", () => {
    assert.throws(
      () =>
        validatePolicy({
          name: "x",
          concepts: [{ name: "a", prompts: ["a"], threshold: 0.2, action: "flag", extra: 1 }],
        }),
      /^UserError: policy \(concepts\[0\]\.extra\): unknown field 'extra'/,
    );
    const a = validatePolicy({
      name: "x",
      concepts: [{ name: "a", prompts: ["a"], threshold: 0.2, action: "flag" }],
    });
    const b = parsePolicy(
      '{"concepts":[{"action":"flag","threshold":0.2,"prompts":["a"],"name":"a"}],"name":"x"}',
    );
    assert.equal(a.hash, b.hash);
    assert.equal(a.hash, policyHash(a.policy));
    const c = validatePolicy({
      name: "x",
      concepts: [{ name: "a", prompts: ["a"], threshold: 0.21, action: "flag" }],
    });
    assert.notEqual(a.hash, c.hash);
  });

  it("loads a file, resolving examples against its folder", () => {
    const dir = tempDir();
    const file = join(dir, "policy.json");
    writeFileSync(file, GOOD);
    const loaded = loadPolicy(file);
    assert.equal(loaded.baseDir, dir);
    assert.throws(() => loadPolicy(join(dir, "none.json")), /none\.json: cannot read the policy \(ENOENT\)/);
  });
});
