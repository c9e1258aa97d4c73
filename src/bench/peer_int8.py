"""PyTorch's own dynamic int8 inference of the peer's tiny CLIP: the towers of ../shared/bench/peer/clip_torch.py
(same shapes, same inputs, same timing loop as its --mode embed) after
torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8): int8 weights per tensor,
activations quantized at run time. PyTorch quantizes the MLP and projection Linears this way; the attention's
packed in_proj is a bare parameter and out_proj a NonDynamicallyQuantizableLinear, so attention stays float32
(its default behaviour, not a choice made here).

Usage: src/bench/peer_int8.py PATH/TO/clip_torch.py --batch 128 --steps 6 --threads 2   (one JSON line out)
"""
import argparse, importlib.util, json, time

import torch
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", default="embed-int8")
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("clip_torch", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = peer.CLIP().eval()
    model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    images = torch.randn(a.batch, 3, 64, 64)
    tokens = torch.randint(1, 8190, (a.batch, 32))
    tokens[:, -1] = 8191
    ti, tt = [], []
    with torch.inference_mode():
        for s in range(a.warmup + a.steps):
            t0 = time.perf_counter(); model.visual(images); t1 = time.perf_counter(); model.text(tokens); t2 = time.perf_counter()
            if s >= a.warmup:
                ti.append(t1 - t0); tt.append(t2 - t1)
    ti.sort(); tt.sort()
    print(json.dumps({"peer": "pytorch-dynamic-int8", "torch": torch.__version__, "threads": a.threads,
                      "batch": a.batch, "engine": torch.backends.quantized.engine,
                      "images_per_s": round(a.batch / ti[len(ti) // 2], 1),
                      "texts_per_s": round(a.batch / tt[len(tt) // 2], 1)}))


if __name__ == "__main__":
    main()
