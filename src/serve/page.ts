/**
 * The web page `juxta serve` answers at `/`: one self-contained HTML document (no CDN, no fetch beyond
 * this server) over the JSON API: a search box, an image to search by (drop or pick), a grid of results
 * with scores and captions, more on scroll, click a result to search by it, a near-duplicate toggle, a
 * safe-mode toggle (only when the server has a moderation policy; on by default), the query in the URL
 * (shareable), keyboard-usable, and a two-column layout on a phone-width window.
 */
export function page(opts: { safe: boolean }): string {
  return PAGE.replace("__SAFE__", opts.safe ? "" : " hidden");
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Juxta search</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1c1c1c; background: #fafafa; }
  body { margin: 0; }
  header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ddd; padding: 12px 16px;
    display: flex; flex-wrap: wrap; gap: 8px; align-items: center; z-index: 1; }
  #q { flex: 1 1 240px; font-size: 16px; padding: 8px 10px; border: 1px solid #bbb; border-radius: 6px; }
  button, label.pick { font-size: 14px; padding: 8px 12px; border: 1px solid #bbb; border-radius: 6px;
    background: #f3f3f3; cursor: pointer; }
  :focus-visible { outline: 3px solid #2b6cb0; outline-offset: 2px; }
  #drop.over { background: #e6f0ff; }
  #status { width: 100%; font-size: 13px; color: #555; min-height: 1em; }
  #grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; padding: 16px; }
  .hit { background: #fff; border: 1px solid #ddd; border-radius: 8px; overflow: hidden; padding: 0;
    text-align: left; cursor: pointer; font: inherit; }
  .hit img { width: 100%; aspect-ratio: 1; object-fit: cover; display: block; background: #eee; }
  .hit .cap { padding: 6px 8px; font-size: 13px; overflow-wrap: anywhere; }
  .hit .score { color: #666; font-variant-numeric: tabular-nums; }
  #preview { height: 36px; border-radius: 4px; display: none; }
  @media (max-width: 520px) { #grid { grid-template-columns: 1fr 1fr; gap: 8px; padding: 8px; } }
</style>
</head>
<body>
<header>
  <form id="form" role="search" style="display:contents">
    <input id="q" name="q" type="search" placeholder="Search images by text" aria-label="Search text" autofocus>
    <button type="submit">Search</button>
  </form>
  <label class="pick" id="drop" tabindex="0">Image…<input id="file" type="file" accept="image/*" hidden></label>
  <img id="preview" alt="query image">
  <label><input id="dedup" type="checkbox"> hide near-duplicates</label>
  <label id="safe-toggle"__SAFE__><input id="safe" type="checkbox" checked> safe mode</label>
  <div id="status" role="status" aria-live="polite"></div>
</header>
<main id="grid" aria-label="results"></main>
<div id="more" style="height:1px"></div>
<script>
const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 24;
let query = null, offset = 0, more = false, loading = false;
const hasSafe = !$("safe-toggle").hidden;

function fromUrl() {
  const p = new URLSearchParams(location.search);
  $("dedup").checked = p.get("dedup") === "1";
  $("safe").checked = p.get("safe") !== "0";
  if (p.get("q")) { $("q").value = p.get("q"); start({ text: p.get("q") }, false); }
  else if (p.get("id")) start({ id: p.get("id") }, false);
}
function toUrl(q) {
  const p = new URLSearchParams();
  if (q.text) p.set("q", q.text);
  if (q.id) p.set("id", q.id);
  if ($("dedup").checked) p.set("dedup", "1");
  if (hasSafe && !$("safe").checked) p.set("safe", "0");
  history.pushState(null, "", p.toString() ? "?" + p : location.pathname);
}
function start(q, push = true) {
  query = q; offset = 0; more = false;
  $("grid").replaceChildren();
  if (push && !q.image) toUrl(q);
  load();
}
async function load() {
  if (!query || loading) return;
  loading = true;
  $("status").textContent = "searching…";
  try {
    const body = { ...query, k: PAGE_SIZE, offset, dedup: $("dedup").checked };
    if (hasSafe) body.safe = $("safe").checked;
    const r = await fetch("/search", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) { $("status").textContent = j.error; return; }
    for (const h of j.hits) $("grid").append(card(h));
    offset += j.hits.length; more = j.more;
    $("status").textContent = offset === 0 ? "no results" : offset + " results" + (more ? ", scroll for more" : "");
  } catch (e) { $("status").textContent = "the server did not answer: " + e.message; }
  finally { loading = false; }
  if (more && nearEnd()) load();
}
function card(h) {
  const b = document.createElement("button");
  b.className = "hit"; b.dataset.id = h.id;
  const caption = h.meta && (h.meta.text || (h.meta.user && h.meta.user.text) || h.meta.filename);
  b.title = "search by this image";
  const img = document.createElement("img");
  img.src = h.image_url; img.loading = "lazy"; img.alt = caption || h.id;
  const cap = document.createElement("div"); cap.className = "cap";
  const s = document.createElement("span"); s.className = "score"; s.textContent = h.score.toFixed(3);
  cap.append(s, " ", caption || h.id.split("/").pop());
  b.append(img, cap);
  b.addEventListener("click", () => { $("q").value = ""; start({ id: h.id }); });
  return b;
}
function nearEnd() { return $("more").getBoundingClientRect().top < innerHeight + 400; }
function byFile(file) {
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    $("preview").src = reader.result; $("preview").style.display = "block";
    $("q").value = "";
    start({ image: String(reader.result) });
  };
  reader.readAsDataURL(file);
}
$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("q").value.trim();
  if (t) { $("preview").style.display = "none"; start({ text: t }); }
});
$("file").addEventListener("change", () => byFile($("file").files[0]));
$("drop").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
for (const ev of ["dragover", "dragenter"]) document.addEventListener(ev, (e) => { e.preventDefault(); $("drop").classList.add("over"); });
document.addEventListener("dragleave", () => $("drop").classList.remove("over"));
document.addEventListener("drop", (e) => { e.preventDefault(); $("drop").classList.remove("over"); byFile(e.dataTransfer.files[0]); });
$("dedup").addEventListener("change", () => { if (query) start(query); });
$("safe").addEventListener("change", () => { if (query) start(query); });
addEventListener("scroll", () => { if (more && nearEnd()) load(); }, { passive: true });
new IntersectionObserver((es) => { if (es[0].isIntersecting && more) load(); }, { rootMargin: "400px" }).observe($("more"));
addEventListener("popstate", fromUrl);
fromUrl();
</script>
</body>
</html>
`;
