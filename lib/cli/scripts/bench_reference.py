#!/usr/bin/python3
"""Reference timings of upstream Metric3D's Python pre- and post-processing.

Times, per image size, the median of N iterations (after 2 warm-up runs) of:
  preprocess   letterbox to 616 x 1064: cv2.resize INTER_LINEAR, cv2.copyMakeBorder
               with the mean colour on a float32 copy, (x - mean) / std with torch
               on the [3, Hi, Wi] tensor, contiguous result
  postprocess  crop the canonical depth, F.interpolate bilinear (align_corners=False)
               to H x W, * fx' / 1000, clamp(0, 300)
  backproject  organised H x W x 3 point cloud with numpy, NaN for invalid depth

Prints one JSON object on stdout; diagnostics go to stderr.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

HI, WI = 616, 1064
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
WARMUP = 2


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        w, h = item.lower().split("x")
        sizes.append((int(w), int(h)))
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes in %r" % text)
    return sizes


def synthetic_image(w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [255.0 * xx / max(w - 1, 1), 255.0 * yy / max(h - 1, 1), 127.5 + 127.5 * np.sin((xx + yy) / 37.0)], axis=-1
    )
    noise = np.random.RandomState(0).randint(-20, 21, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def letterbox(h_img, w_img):
    s = min(HI / h_img, WI / w_img)
    h = int(h_img * s)
    w = int(w_img * s)
    pt = (HI - h) // 2
    pl = (WI - w) // 2
    return s, h, w, pt, HI - h - pt, pl, WI - w - pl


MEAN_T = torch.tensor(MEAN, dtype=torch.float32)[:, None, None]
STD_T = torch.tensor(STD, dtype=torch.float32)[:, None, None]


def preprocess(rgb):
    h_img, w_img = rgb.shape[:2]
    s, h, w, pt, pb, pl, pr = letterbox(h_img, w_img)
    resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(resized.astype(np.float32), pt, pb, pl, pr, cv2.BORDER_CONSTANT, value=MEAN)
    x = torch.from_numpy(padded.transpose((2, 0, 1)))
    x = torch.div(x - MEAN_T, STD_T).contiguous()
    return x, s, (pt, pb, pl, pr)


def postprocess(canonical, pads, out_h, out_w, fx_scaled):
    pt, pb, pl, pr = pads
    d = canonical[pt:canonical.shape[0] - pb, pl:canonical.shape[1] - pr]
    d = F.interpolate(d[None, None], size=(out_h, out_w), mode="bilinear", align_corners=False)[0, 0]
    d = d * (fx_scaled / 1000.0)
    return torch.clamp(d, 0, 300)


def backproject(depth, fx, fy, cx, cy):
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    z = depth
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(z) & (z > 0)
        x = (u - cx) * z / fx
        y = (v - cy) * z / fy
    cloud = np.stack([x, y, z], axis=-1)
    cloud[~valid] = np.nan
    return cloud


def median_ms(fn, iterations):
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1242x375,1920x1080"),
                    help="comma-separated WIDTHxHEIGHT list (default 1242x375,1920x1080)")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.iterations < 1 or args.threads < 1:
        ap.error("--iterations and --threads must be >= 1")

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    torch.set_grad_enabled(False)

    results = []
    for w, h in args.sizes:
        rgb = synthetic_image(w, h)
        s, rh, rw, pt, pb, pl, pr = letterbox(h, w)
        fx = fy = float(w)
        cx, cy = w / 2.0, h / 2.0

        gen = torch.Generator().manual_seed(0)
        canonical = torch.rand((HI, WI), generator=gen, dtype=torch.float32) * 100.0
        depth = np.random.RandomState(1).uniform(0.5, 80.0, size=(h, w)).astype(np.float32)
        depth[::97, ::89] = 0.0
        depth[::101, ::83] = np.nan

        pre = median_ms(lambda: preprocess(rgb), args.iterations)
        post = median_ms(lambda: postprocess(canonical, (pt, pb, pl, pr), h, w, fx * s), args.iterations)
        bp = median_ms(lambda: backproject(depth, fx, fy, cx, cy), args.iterations)
        label = "%dx%d" % (w, h)
        print("%s: letterbox s=%.6f -> %dx%d, pads %d/%d/%d/%d; preprocess %.3f ms, postprocess %.3f ms, "
              "backproject %.3f ms" % (label, s, rw, rh, pt, pb, pl, pr, pre, post, bp), file=sys.stderr)
        results.append({"size": label, "preprocess_ms": round(pre, 4), "postprocess_ms": round(post, 4),
                        "backproject_ms": round(bp, 4)})

    out = {
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "torch": torch.__version__,
        },
        "threads": args.threads,
        "iterations": args.iterations,
        "results": results,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
