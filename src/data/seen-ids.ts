/**
 * The set of ids a stream has already given (to skip repeated images), in 8 bytes an id rather than the
 * ~100 a `Set<string>` of paths takes: each id is kept as a 64-bit hash in an open-addressing table. At
 * 1M images that is ~16 MB instead of ~100 MB, so a streamed embedding's memory stays flat. Two different
 * ids share a hash with probability about n² / 2⁶⁵ (3 · 10⁻⁸ at a million ids); such an id would be taken
 * for a repeat and skipped.
 */
export class SeenIds {
  /** Pairs of 32-bit halves; (0, 0) marks an empty slot (a hash of (0, 0) is stored as (0, 1)). */
  private table = new Uint32Array(2 * 1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Add `id`; false if it was there already. */
  add(id: string): boolean {
    if (2 * (this.count + 1) > this.table.length / 2) this.grow();
    const [hi, lo] = hash64(id);
    return this.insert(hi, lo === 0 && hi === 0 ? 1 : lo);
  }

  private insert(hi: number, lo: number): boolean {
    const slots = this.table.length / 2;
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & (slots - 1);
    for (;;) {
      const h = this.table[2 * i] as number;
      const l = this.table[2 * i + 1] as number;
      if (h === 0 && l === 0) {
        this.table[2 * i] = hi;
        this.table[2 * i + 1] = lo;
        this.count++;
        return true;
      }
      if (h === hi && l === lo) return false;
      i = (i + 1) & (slots - 1);
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.count = 0;
    for (let i = 0; i < old.length; i += 2)
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i] as number, old[i + 1] as number);
  }
}

/** Two independent 32-bit hashes of the UTF-16 code units: FNV-1a and a multiply-rotate mix. */
function hash64(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x27d4eb2f ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x85ebca6b);
    b = (b << 13) | (b >>> 19);
  }
  b ^= b >>> 16;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 13;
  return [a >>> 0, b >>> 0];
}
