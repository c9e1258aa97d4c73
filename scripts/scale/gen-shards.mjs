// node scripts/scale/gen-shards.mjs N DIR: N small captioned PNGs (24x24, two colours) in WebDataset shards of 1000
import { mkdirSync, writeFileSync } from "node:fs";
import sharp from "sharp";
import { tar } from "../../dist/test/data/fixtures.js";

const [n, dir] = [Number(process.argv[2]), process.argv[3]];
mkdirSync(dir, { recursive: true });
const colours = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white"];
const rgb = [
  [220, 30, 30],
  [30, 200, 60],
  [40, 60, 220],
  [230, 210, 40],
  [140, 40, 160],
  [250, 140, 20],
  [10, 10, 10],
  [245, 245, 245],
];
const tiles = [];
for (let a = 0; a < 8; a++)
  for (let b = 0; b < 8; b++) {
    const px = Buffer.alloc(24 * 24 * 3);
    for (let y = 0; y < 24; y++)
      for (let x = 0; x < 24; x++) px.set(x < 12 ? rgb[a] : rgb[b], (y * 24 + x) * 3);
    tiles.push({
      png: await sharp(px, { raw: { width: 24, height: 24, channels: 3 } })
        .png()
        .toBuffer(),
      text: `${colours[a]} and ${colours[b]}`,
    });
  }
for (let s = 0; s * 1000 < n; s++) {
  const members = [];
  for (let i = s * 1000; i < Math.min(n, (s + 1) * 1000); i++) {
    const t = tiles[i % 64];
    const key = String(i).padStart(7, "0");
    members.push([`${key}.png`, t.png], [`${key}.txt`, `${t.text} ${i}`]);
  }
  writeFileSync(`${dir}/shard-${String(s).padStart(4, "0")}.tar`, tar(members));
}
