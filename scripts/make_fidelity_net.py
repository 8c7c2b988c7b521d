#!/usr/bin/python3
"""Build a small random-weight network with the community contract and its PyTorch reference.

The oracle models of make_models.py are smooth: a wrong grey level or a shifted pixel
barely changes their output. This network is a few convolutions with random weights
(fixed seed), so its depth, normals and confidence depend on every input pixel and
its neighbours; the end-to-end test runs it through the package and compares with the
same network run by PyTorch on the OpenCV reference input (docs/pipeline.md).

Writes:
  test/fixtures/models/random-net-community.onnx   the network (torch.onnx.export, opset 17):
      input  pixel_values      float32 [1, 3, height, width], raw 0..255 RGB
      output predicted_depth   float32 [1, height, width]     canonical depth > 0
             predicted_normal  float32 [1, 3, height, width]  unit vectors
             normal_confidence float32 [1, 1, height, width]  > 0
  test/fixtures/reference/net_<key>.json       geometry, layout and summary of the .gz
  test/fixtures/reference/net_<key>.bin.gz     the PyTorch result on the photo <key>,
      float32 little-endian, byte-shuffled (byte 0 of every value, then byte 1, ...)
      and gzipped: depth height x width (every pixel), then normals 3 x n and
      confidence n at the sampled pixels (rows x cols of the JSON), channel-major

Reference pipeline (docs/pipeline.md sections 1-4), model input INPUT_SIZE:
  cv2.imread (BGR -> RGB), cv2.resize INTER_LINEAR to (w, h), cv2.copyMakeBorder with
  (123.675, 116.28, 103.53) on uint8, raw float32 values (the graph normalises), the
  torch module forward, crop of the padding, F.interpolate(bilinear, align_corners=False)
  to H x W, depth * (fx * s / 1000) clamped to [0, 300], normals F.normalize(dim=1).
"""

import gzip
import io
import json
import os

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = os.path.join(ROOT, "test", "fixtures", "photos")
MODELS = os.path.join(ROOT, "test", "fixtures", "models")
REFERENCE = os.path.join(ROOT, "test", "fixtures", "reference")
MODEL_FILE = "random-net-community.onnx"

INPUT_SIZE = (308, 532)  # multiples of 14, half of 616 x 1064
SEED = 15
WIDTH = 16
PATCH = 14
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
SAMPLE_STEP = 5
PHOTO_FILES = {"kitti": "kitti_0000000005.png", "nyu": "nyu_00000.jpg"}


class RandomNet(nn.Module):
    """Normalise, a full-resolution conv path plus a ViT-style 14 x 14 patch path, three heads."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1))
        # Normals mostly facing the camera (z < 0), as real surfaces seen in a photo are: a
        # zero-mean random normal head has pixels where the vector is nearly zero or where
        # neighbouring normals nearly cancel in the bilinear resize, and re-normalising
        # there magnifies float32 rounding differences past 1e-4.
        self.register_buffer("normal_bias", torch.tensor([0.0, 0.0, -2.0]).view(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, WIDTH, 3, padding=1)
        self.dilated = nn.Conv2d(WIDTH, WIDTH, 3, padding=2, dilation=2)
        self.patch = nn.Conv2d(3, 24, PATCH, stride=PATCH)
        self.patch_proj = nn.Conv2d(24, WIDTH, 1)
        self.mix = nn.Conv2d(WIDTH, WIDTH, 3, padding=1)
        self.head = nn.Conv2d(WIDTH, 5, 3, padding=1)

    def forward(self, pixel_values):
        x = torch.div(pixel_values - self.mean, self.std)
        f = F.relu(self.stem(x))
        f = F.relu(self.dilated(f)) + f
        p = self.patch_proj(F.relu(self.patch(x)))
        p = F.interpolate(p, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
        f = torch.tanh(self.mix(f + p))
        h = self.head(f)
        depth = F.softplus(h[:, 0]) * 20.0 + 0.5
        normal = F.normalize(h[:, 1:4] * 0.5 + self.normal_bias, dim=1)
        confidence = F.softplus(h[:, 4:5]) * 10.0
        return depth, normal, confidence


def build():
    torch.manual_seed(SEED)
    net = RandomNet()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.1, 0.1)
    return net.eval()


def export(net, path):
    buf = io.BytesIO()
    dyn = {2: "height", 3: "width"}
    torch.onnx.export(
        net,
        torch.full((1, 3) + INPUT_SIZE, 128.0),
        buf,
        input_names=["pixel_values"],
        output_names=["predicted_depth", "predicted_normal", "normal_confidence"],
        dynamic_axes={
            "pixel_values": dyn,
            "predicted_depth": {1: "height", 2: "width"},
            "predicted_normal": dyn,
            "normal_confidence": dyn,
        },
        opset_version=17,
        do_constant_folding=True,
    )
    model = onnx.load_from_string(buf.getvalue())
    for node in model.graph.node:
        node.doc_string = ""
    model.producer_name = "metric3d-trt"
    model.producer_version = "1"
    onnx.checker.check_model(model, full_check=True)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def letterbox(H, W, Hi, Wi):
    s = min(Hi / H, Wi / W)
    h, w = int(H * s), int(W * s)
    top, left = (Hi - h) // 2, (Wi - w) // 2
    return s, h, w, top, Hi - h - top, left, Wi - w - left


def samples(n):
    return sorted(set(range(0, n, SAMPLE_STEP)) | {0, 1, n - 2, n - 1})


def shuffled(a):
    """float32 little-endian, byte-shuffled: byte k of every value, for k = 0..3."""
    b = np.ascontiguousarray(a, dtype="<f4").view(np.uint8).reshape(-1, 4)
    return np.ascontiguousarray(b.T).tobytes()


def reference(net, key, cam):
    photo = os.path.join(PHOTOS, PHOTO_FILES[key])
    bgr = cv2.imread(photo, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit("cannot decode " + photo)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    H, W = rgb.shape[:2]
    Hi, Wi = INPUT_SIZE
    s, h, w, top, bottom, left, right = letterbox(H, W, Hi, Wi)
    resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=MEAN)
    x = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1))).float()[None]
    with torch.no_grad():
        depth, normal, conf = net(x)
        crop = (slice(None), slice(None), slice(top, Hi - bottom), slice(left, Wi - right))
        up = lambda t: F.interpolate(t[crop], size=(H, W), mode="bilinear", align_corners=False)
        fx_scaled = cam["intrinsics"]["fx"] * s
        d = torch.clamp(up(depth[:, None]) * (fx_scaled / 1000.0), 0.0, 300.0)[0, 0].numpy()
        n = F.normalize(up(normal), dim=1)[0].numpy()
        k = up(conf)[0, 0].numpy()
    rows, cols = samples(H), samples(W)
    grid = np.ix_(rows, cols)
    payload = np.concatenate([d.ravel(), n[:, rows][:, :, cols].ravel(), k[grid].ravel()])
    with open(os.path.join(REFERENCE, "net_%s.bin.gz" % key), "wb") as f:
        # mtime 0 and no file name: the bytes depend only on the data.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
            g.write(shuffled(payload))
    meta = {
        "model": "models/" + MODEL_FILE,
        "photo": "photos/" + PHOTO_FILES[key],
        "decoded": "cv2.imread(IMREAD_COLOR) then BGR -> RGB",
        "width": W,
        "height": H,
        "inputHeight": Hi,
        "inputWidth": Wi,
        "scale": s,
        "h": h,
        "w": w,
        "padTop": top,
        "padBottom": bottom,
        "padLeft": left,
        "padRight": right,
        "intrinsics": cam["intrinsics"],
        "rows": rows,
        "cols": cols,
        "layout": "float32 LE byte-shuffled, gzip: depth[height*width] (row-major), "
        "normals[3][rows x cols] (channel-major, then row-major), confidence[rows x cols]",
        "summary": {
            "depthMin": float(d.min()),
            "depthMax": float(d.max()),
            "depthMean": float(d.mean()),
            "canonicalDepthStd": float(depth[0, top : Hi - bottom, left : Wi - right].std()),
            "confidenceMean": float(k.mean()),
        },
        "versions": {"torch": torch.__version__, "opencv": cv2.__version__, "onnx": onnx.__version__},
    }
    with open(os.path.join(REFERENCE, "net_%s.json" % key), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def main():
    torch.set_num_threads(1)
    net = build()
    path = os.path.join(MODELS, MODEL_FILE)
    export(net, path)
    print("%s: %d bytes, %d parameters" % (MODEL_FILE, os.path.getsize(path), sum(p.numel() for p in net.parameters())))
    with open(os.path.join(PHOTOS, "cameras.json")) as f:
        cameras = json.load(f)
    for key in PHOTO_FILES:
        meta = reference(net, key, cameras[key])
        size = os.path.getsize(os.path.join(REFERENCE, "net_%s.bin.gz" % key))
        print("net_%s.bin.gz: %d bytes; %s" % (key, size, json.dumps(meta["summary"])))


if __name__ == "__main__":
    main()
