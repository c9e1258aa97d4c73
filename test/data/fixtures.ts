/** Small inputs built in tests: temp folders, PNGs made with sharp, and tar archives written by hand. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "juxta-"));
}

export function png(width = 4, height = 4, r = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g: 10, b: 30 } } })
    .png()
    .toBuffer();
}

const enc = new TextEncoder();

/** One ustar header block (checksum filled in). */
export function tarHeader(name: string, size: number, type: string): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, at: number) => h.set(enc.encode(s), at);
  put(name.slice(0, 100), 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(`${size.toString(8).padStart(11, "0")}\0`, 124);
  put("00000000000\0", 136);
  put(type, 156);
  put("ustar\0", 257);
  put("00", 263);
  put("        ", 148);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

export function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/** A ustar archive; names over 100 bytes get a pax header (or a GNU long-name entry with `gnu`). */
export function tar(files: [string, Uint8Array | string][], opts: { gnu?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, content] of files) {
    const data = typeof content === "string" ? enc.encode(content) : content;
    if (enc.encode(name).length > 100) {
      if (opts.gnu) {
        const long = enc.encode(`${name}\0`);
        parts.push(tarHeader("././@LongLink", long.length, "L"), padded(long));
      } else {
        const body = ` path=${name}\n`;
        let len = body.length + 2;
        while (String(len).length + body.length !== len) len = String(len).length + body.length;
        const rec = enc.encode(`${len}${body}`);
        parts.push(tarHeader("PaxHeader", rec.length, "x"), padded(rec));
      }
    }
    parts.push(tarHeader(name, data.length, "0"), padded(data));
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
