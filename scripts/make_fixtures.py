#!/usr/bin/python3
"""Copy the test photos and write OpenCV / PyTorch reference results for them.

Source: the demo photo set given with --data (default: ../shared/data/metric3d-demo
beside the repository).
Writes:
  test/fixtures/photos/     two photos with ground-truth depth, cameras.json, and the
                            decoded RGB of each photo as binary PPM (for the C++ tests)
  test/fixtures/reference/  <key>_resized.png  letterbox resize (cv2.INTER_LINEAR, uint8 RGB)
                            nyu_decoded.png    the JPEG decoded by OpenCV, RGB, lossless
                            synthetic.json     cv2.resize of formula images at awkward sizes: the
                                               letterbox and the CRC-32 of each uint8 result
                            <key>_post.bin     sampled postprocess reference (float32 LE)
                            <key>.json         geometry, formulas and layout of the .bin

The postprocess reference follows docs/pipeline.md section 3 and 4 with PyTorch:
crop the padding, F.interpolate(bilinear, align_corners=False) to the original size,
depth * fx' / 1000 clamped to [0, 300]; normals re-normalised with F.normalize.
"""

import argparse
import json
import os
import shutil
import sys
import zlib

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = os.path.join(ROOT, "test", "fixtures", "photos")
REFERENCE = os.path.join(ROOT, "test", "fixtures", "reference")
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "metric3d-demo")

HI, WI = 616, 1064
MEAN = (123.675, 116.28, 103.53)
# The uint8 pad colour: cv2.copyMakeBorder saturate-casts MEAN on 8-bit images.
PAD = cv2.copyMakeBorder(np.zeros((1, 1, 3), np.uint8), 1, 0, 0, 0, cv2.BORDER_CONSTANT, value=MEAN)[0, 0]

PHOTO_SETS = {
    "kitti": {
        "id": "0000000005",
        "rgb": ("kitti/rgb/0000000005.png", "kitti_0000000005.png"),
        "depth": ("kitti/depth/0000000005.png", "kitti_0000000005_depth.png"),
    },
    "nyu": {
        "id": "00000",
        "rgb": ("nyu/rgb/rgb_00000.jpg", "nyu_00000.jpg"),
        "depth": ("nyu/depth/sync_depth_00000.png", "nyu_00000_depth.png"),
    },
}

FORMULAS = {
    "indices": "y = row 0..inputHeight-1, x = column 0..inputWidth-1 of the model output; "
    "integer arithmetic in int64, then float32 arithmetic as written",
    "canonicalDepth": "C[y,x] = float32(1) + float32((y*37 + x*11) % 251) / float32(2.5) + float32((y*y + 3*x) % 17)",
    "normal0": "N0[y,x] = float32((y*13 + x*7) % 101) / float32(50) - float32(1)",
    "normal1": "N1[y,x] = float32((y*5 + x*17) % 89) / float32(44) - float32(1)",
    "normal2": "N2[y,x] = -(float32(0.2) + float32((y*3 + x*29) % 61) / float32(60))",
    "confidence": "K[y,x] = float32((y*11 + x*3) % 97) / float32(4)",
    "depth": "clamp(interpolate(C[padTop:inputHeight-padBottom, padLeft:inputWidth-padRight], size=(height,width), "
    "mode='bilinear', align_corners=False) * (fxScaled / 1000), 0, 300)  (torch float32; fxScaled / 1000 as a Python float)",
    "normals": "normalize(interpolate(N[:, crop], size=(height,width), mode='bilinear', align_corners=False), dim=0)  "
    "(torch.nn.functional.normalize, eps 1e-12)",
    "confidenceOut": "interpolate(K[crop], size=(height,width), mode='bilinear', align_corners=False)  (not normalised)",
    "letterbox": "s = min(inputHeight/height, inputWidth/width); h = int(height*s); w = int(width*s); "
    "padTop = (inputHeight-h)//2; padBottom = inputHeight-h-padTop; padLeft = (inputWidth-w)//2; padRight = inputWidth-w-padLeft",
    "resized": "cv2.resize(rgb_uint8, (w, h), interpolation=cv2.INTER_LINEAR), stored as an RGB PNG; "
    "resizedCrc32 = zlib.crc32 of its bytes, row-major h x w x 3",
    "padColor": "cv2.copyMakeBorder(resized, ..., cv2.BORDER_CONSTANT, value=(123.675, 116.28, 103.53)) on uint8: "
    "the saturate_cast pad colour",
    "samples": "rows = sorted(set(range(0, height, 5)) | {0, 1, height-2, height-1}); cols likewise with width",
}


def canonical_maps(hi, wi):
    y = np.arange(hi, dtype=np.int64)[:, None]
    x = np.arange(wi, dtype=np.int64)[None, :]
    f = np.float32
    c = f(1) + ((y * 37 + x * 11) % 251).astype(f) / f(2.5) + ((y * y + 3 * x) % 17).astype(f)
    n0 = ((y * 13 + x * 7) % 101).astype(f) / f(50) - f(1)
    n1 = ((y * 5 + x * 17) % 89).astype(f) / f(44) - f(1)
    n2 = -(f(0.2) + ((y * 3 + x * 29) % 61).astype(f) / f(60))
    k = np.array(np.broadcast_to(((y * 11 + x * 3) % 97).astype(f) / f(4), (hi, wi)))
    n = np.stack([n0, n1, n2]).astype(f)
    for a in (c, n, k):
        assert a.dtype == np.float32
    return np.ascontiguousarray(c), np.ascontiguousarray(n), np.ascontiguousarray(k)


def letterbox(h_img, w_img, hi=HI, wi=WI):
    s = min(hi / h_img, wi / w_img)
    h = int(h_img * s)
    w = int(w_img * s)
    pad_top = (hi - h) // 2
    pad_bottom = hi - h - pad_top
    pad_left = (wi - w) // 2
    pad_right = wi - w - pad_left
    return s, h, w, pad_top, pad_bottom, pad_left, pad_right


# Synthetic images (pipeline.md section 1 exactness): (width, height) at every model input
# size below, chosen for awkward scale factors, both 2x and 0.5x the input, and the input
# size itself.
SYNTHETIC_INPUTS = [(616, 1064), (518, 518)]
SYNTHETIC_SIZES = [(1242, 375), (640, 480), (1920, 1080), (4032, 3024), (100, 3000), (3000, 100), (37, 53),
                   (1, 1), (7, 5), (333, 777), (1023, 767)]
SYNTHETIC_GREY = [((1242, 375), (616, 1064)), ((37, 53), (518, 518)), ((333, 777), (518, 518))]
SYNTHETIC_FORMULA = ("v[y,x,c] = ((x*131 + y*71 + c*29) ^ (x*y)) & 255 in int64 (RGB, c = 0, 1, 2); "
                     "grey images use c = 0 and are read as RGB with three equal channels")


def synthetic_image(w, h, channels=3):
    y = np.arange(h, dtype=np.int64)[:, None, None]
    x = np.arange(w, dtype=np.int64)[None, :, None]
    c = np.arange(channels, dtype=np.int64)[None, None, :]
    return (((x * 131 + y * 71 + c * 29) ^ (x * y)) & 255).astype(np.uint8)


def synthetic_cases():
    cases = []
    for hi, wi in SYNTHETIC_INPUTS:
        sizes = SYNTHETIC_SIZES + [(wi, hi), (2 * wi, 2 * hi), (wi // 2, hi // 2)]
        for w_img, h_img in sizes:
            cases.append((w_img, h_img, 3, hi, wi))
    for (w_img, h_img), (hi, wi) in SYNTHETIC_GREY:
        cases.append((w_img, h_img, 1, hi, wi))
    out = []
    for w_img, h_img, channels, hi, wi in cases:
        img = synthetic_image(w_img, h_img, 1 if channels == 1 else 3)
        rgb = np.repeat(img, 3, axis=2) if channels == 1 else img
        s, h, w, pt, pb, pl, pr = letterbox(h_img, w_img, hi, wi)
        resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        assert resized.shape == (h, w, 3) and resized.dtype == np.uint8
        out.append({"width": w_img, "height": h_img, "channels": channels, "inputHeight": hi, "inputWidth": wi,
                    "w": w, "h": h, "padTop": pt, "padLeft": pl,
                    "crc32": zlib.crc32(np.ascontiguousarray(resized).tobytes())})
    return out


def sample_indices(n):
    return sorted(set(range(0, n, 5)) | {0, 1, n - 2, n - 1})


def write_png(path, rgb):
    ok = cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise SystemExit("cannot write " + path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    args = ap.parse_args()

    torch.set_num_threads(1)
    with open(os.path.join(args.data, "cameras.json")) as f:
        cameras = json.load(f)

    os.makedirs(PHOTOS, exist_ok=True)
    os.makedirs(REFERENCE, exist_ok=True)

    cams_out = {}
    for key, spec in PHOTO_SETS.items():
        for kind in ("rgb", "depth"):
            src, dst = spec[kind]
            shutil.copyfile(os.path.join(args.data, src), os.path.join(PHOTOS, dst))
        cam = cameras[key]
        cams_out[key] = {
            "intrinsics": cam["intrinsics"],
            "depthScale": cam["depthScale"],
            "images": [spec["id"]],
            "rgb": spec["rgb"][1].replace(spec["id"], "{id}"),
            "depth": spec["depth"][1].replace(spec["id"], "{id}"),
        }
    with open(os.path.join(PHOTOS, "cameras.json"), "w") as f:
        json.dump(cams_out, f, indent=2)
        f.write("\n")

    canon_c, canon_n, canon_k = canonical_maps(HI, WI)
    summary = []
    for key, spec in PHOTO_SETS.items():
        photo = os.path.join(PHOTOS, spec["rgb"][1])
        bgr = cv2.imread(photo, cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit("cannot decode " + photo)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        H, W = rgb.shape[:2]
        files = {"photo": "photos/" + spec["rgb"][1], "groundTruthDepth": "photos/" + spec["depth"][1]}
        if not photo.endswith(".png"):
            write_png(os.path.join(REFERENCE, key + "_decoded.png"), rgb)
            files["decoded"] = "reference/%s_decoded.png" % key
        # Binary PPM (P6, RGB) of the decoded pixels for the C++ tests, which have no image decoder.
        ppm = os.path.splitext(spec["rgb"][1])[0] + ".ppm"
        if not cv2.imwrite(os.path.join(PHOTOS, ppm), bgr):
            raise SystemExit("cannot write " + ppm)
        files["ppm"] = "photos/" + ppm

        s, h, w, pt, pb, pl, pr = letterbox(H, W)
        resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        assert resized.shape == (h, w, 3)
        write_png(os.path.join(REFERENCE, key + "_resized.png"), resized)
        files["resized"] = "reference/%s_resized.png" % key
        resized_crc = zlib.crc32(np.ascontiguousarray(resized).tobytes())

        intr = cameras[key]["intrinsics"]
        fx_scaled = intr["fx"] * s
        to_metric = fx_scaled / 1000.0

        with torch.no_grad():
            c = torch.from_numpy(canon_c)[pt:HI - pb, pl:WI - pr]
            depth = F.interpolate(c[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
            depth = torch.clamp(depth * to_metric, 0, 300)
            n = torch.from_numpy(canon_n)[:, pt:HI - pb, pl:WI - pr]
            n = F.interpolate(n[None], size=(H, W), mode="bilinear", align_corners=False)[0]
            n = F.normalize(n, dim=0)
            k = torch.from_numpy(canon_k)[pt:HI - pb, pl:WI - pr]
            k = F.interpolate(k[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]

        rows = sample_indices(H)
        cols = sample_indices(W)
        ri = np.array(rows)[:, None]
        ci = np.array(cols)[None, :]
        blocks = [depth.numpy()[ri, ci], n[0].numpy()[ri, ci], n[1].numpy()[ri, ci], n[2].numpy()[ri, ci], k.numpy()[ri, ci]]
        blob = b"".join(np.ascontiguousarray(b, dtype="<f4").tobytes() for b in blocks)
        with open(os.path.join(REFERENCE, key + "_post.bin"), "wb") as f:
            f.write(blob)
        files["post"] = "reference/%s_post.bin" % key

        meta = {
            "key": key,
            "width": W,
            "height": H,
            "inputHeight": HI,
            "inputWidth": WI,
            "scale": s,
            "h": h,
            "w": w,
            "padTop": pt,
            "padBottom": pb,
            "padLeft": pl,
            "padRight": pr,
            "padColor": [int(v) for v in PAD],
            "intrinsics": {k2: intr[k2] for k2 in ("fx", "fy", "cx", "cy")},
            "depthScale": cameras[key]["depthScale"],
            "fxScaled": fx_scaled,
            "resizedCrc32": resized_crc,
            "rows": rows,
            "cols": cols,
            "formulas": FORMULAS,
            "layout": {
                "file": files["post"],
                "dtype": "float32",
                "endianness": "little",
                "order": ["depth", "normal0", "normal1", "normal2", "confidence"],
                "blockShape": [len(rows), len(cols)],
                "blockMajor": "row",
                "description": "five consecutive blocks, each [rows.length][cols.length] row-major: "
                "block[i][j] = map[rows[i]][cols[j]] of the full height x width map",
                "bytes": len(blob),
            },
            "files": files,
            "source": {"rgb": cameras[key]["rgb"].replace("{id}", spec["id"]),
                       "depth": cameras[key]["depth"].replace("{id}", spec["id"])},
            "versions": {"opencv": cv2.__version__, "torch": torch.__version__, "numpy": np.__version__},
        }
        with open(os.path.join(REFERENCE, key + ".json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        d = depth.numpy()
        summary.append(
            "%-5s %dx%d  s=%r  resized %dx%d  pads top/bottom/left/right %d/%d/%d/%d  fx'=%.6f  "
            "samples %dx%d  depth %.4f..%.4f m"
            % (key, W, H, s, w, h, pt, pb, pl, pr, fx_scaled, len(rows), len(cols), float(d.min()), float(d.max()))
        )

    cases = synthetic_cases()
    with open(os.path.join(REFERENCE, "synthetic.json"), "w") as f:
        json.dump({"formula": SYNTHETIC_FORMULA,
                   "resized": "cv2.resize(rgb_uint8, (w, h), interpolation=cv2.INTER_LINEAR) of the letterbox; "
                   "crc32 = zlib.crc32 of its bytes, row-major h x w x 3 (RGB)",
                   "pad": "cv2.copyMakeBorder(..., cv2.BORDER_CONSTANT, value=%r) on uint8 gives %r"
                   % (MEAN, [int(v) for v in PAD]),
                   "versions": {"opencv": cv2.__version__, "numpy": np.__version__},
                   "cases": cases}, f, indent=1)
        f.write("\n")

    total = 0
    for folder in (PHOTOS, REFERENCE):
        for name in sorted(os.listdir(folder)):
            size = os.path.getsize(os.path.join(folder, name))
            total += size
            print("%-50s %9d bytes" % (os.path.relpath(os.path.join(folder, name), ROOT), size))
    print("total %d bytes" % total)
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
