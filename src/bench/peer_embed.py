"""The PyTorch peer's towers (the classes of ../shared/bench/peer/clip_torch.py) timed at embedding, in the
modes the peer script itself lacks: PyTorch's own dynamic int8, OpenAI ViT-B/32's shapes, and given token ids
(real captions). Same timing loop as the peer's --mode embed (warmup, then the median of --steps runs).

--dtype int8: torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8): int8 weights per
  tensor, activations quantized at run time. PyTorch quantizes the MLP and projection Linears this way; the
  attention's packed in_proj is a bare parameter and out_proj a NonDynamicallyQuantizableLinear, so attention
  stays float32 (its default behaviour, not a choice made here).
--preset b32: ViT(224, patch 32, width 768, 12 layers, 12 heads) and a text tower of vocab 49408, context 77,
  width 512, 12 layers, 8 heads, both projected to 512 (the peer's blocks use exact GELU where OpenAI's use
  quick_gelu: the same cost to within a fraction of a percent).
--tokens FILE: int32 token ids [rows, context] (little-endian, as Juxta's tokenizer wrote them, zero padding
  to the full context as open_clip pads): every row run through the text tower in batches of --batch; adds
  texts_given_per_s. --texts-only skips the image tower and the full-context texts.

Usage: src/bench/peer_embed.py PATH/TO/clip_torch.py [--preset tiny|b32] [--dtype fp32|int8] [--tokens FILE]
       --batch 128 --steps 6 --threads 2   (one JSON line out)
"""
import argparse, importlib.util, json, time

import torch
import torch.nn as nn

PRESETS = {
    "tiny": dict(image=64, patch=8, vwidth=256, vdepth=6, vheads=4, vocab=8192, ctx=32, twidth=256, tdepth=6,
                 theads=4, out=256),
    "b32": dict(image=224, patch=32, vwidth=768, vdepth=12, vheads=12, vocab=49408, ctx=77, twidth=512,
                tdepth=12, theads=8, out=512),
}


def median_rate(rows, fn, warmup, steps):
    times = []
    for s in range(warmup + steps):
        t0 = time.perf_counter(); fn(); t = time.perf_counter() - t0
        if s >= warmup:
            times.append(t)
    times.sort()
    return round(rows / times[len(times) // 2], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer")
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "int8"])
    ap.add_argument("--tokens")
    ap.add_argument("--texts-only", action="store_true")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("clip_torch", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    p = PRESETS[a.preset]
    model = nn.Module()
    model.visual = peer.ViT(p["image"], p["patch"], p["vwidth"], p["vdepth"], p["vheads"], p["out"])
    model.text = peer.TextTransformer(p["vocab"], p["ctx"], p["twidth"], p["tdepth"], p["theads"], p["out"])
    model.eval()
    if a.dtype == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    out = {"peer": f"pytorch-{a.dtype}", "torch": torch.__version__, "preset": a.preset, "threads": a.threads,
           "batch": a.batch, "engine": torch.backends.quantized.engine}
    with torch.inference_mode():
        if not a.texts_only:
            images = torch.randn(a.batch, 3, p["image"], p["image"])
            tokens = torch.randint(1, p["vocab"] - 2, (a.batch, p["ctx"]))
            tokens[:, -1] = p["vocab"] - 1  # EOT is the largest id
            out["images_per_s"] = median_rate(a.batch, lambda: model.visual(images), a.warmup, a.steps)
            out["texts_per_s"] = median_rate(a.batch, lambda: model.text(tokens), a.warmup, a.steps)
        if a.tokens:
            with open(a.tokens, "rb") as f:
                given = torch.frombuffer(bytearray(f.read()), dtype=torch.int32).view(-1, p["ctx"]).long()
            chunks = given.split(a.batch)
            run = lambda: [model.text(c) for c in chunks]
            out["texts_given_per_s"] = median_rate(given.shape[0], run, a.warmup, a.steps)
            out["texts_given_rows"] = given.shape[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
