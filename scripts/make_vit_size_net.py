#!/usr/bin/python3
"""Build a random-weight network with the size and structure of Metric3D v2 ViT-Small, for benchmarking.

Usage: /usr/bin/python3 scripts/make_vit_size_net.py OUTPUT.onnx [--seed N] [--opset N]
  e.g. /usr/bin/python3 scripts/make_vit_size_net.py /tmp/vit-small-size.onnx
  then npm run bench -- --model /tmp/vit-small-size.onnx --iterations 5 --sizes 1242x375 --inflight 1

The weights are random (fixed seed): the output means nothing, but the graph does the
work of the real model, so onnxruntime's forward time and memory are those of a
ViT-S/14 Metric3D export. The file (~150 MB) is not a test fixture and is never committed.

Contract: the package's "community" contract (models/registry.json, scripts/make_fidelity_net.py),
with a static 616 x 1064 input:
  input  pixel_values      float32 [1, 3, 616, 1064], raw 0..255 RGB (the graph normalises)
  output predicted_depth   float32 [1, 616, 1064]     canonical depth in [1, 50]
         predicted_normal  float32 [1, 3, 616, 1064]  unit vectors
         normal_confidence float32 [1, 1, 616, 1064]  > 0

Structure:
  encoder  DINOv2 ViT-S/14 with 4 registers: 14 x 14 patch conv (384), cls token, learned
           positional embedding on a 37 x 37 grid resized bicubically to 44 x 76 (3344
           tokens) as DINOv2 does, 12 pre-norm blocks (6 heads, MLP ratio 4, LayerNorm,
           GELU, layer scale), final LayerNorm
  decoder  DPT-like: the tokens of blocks 3, 6, 9, 12 with the cls token read out,
           reassembled to 1/3.5, 1/7, 1/14, 1/28 of the input, projected to 256 channels
           (128 at 1/3.5), fused top-down by residual conv units, then depth and
           normal + confidence heads at 1/1.75, bilinearly upsampled to 616 x 1064
"""

import argparse
import io
import math
import os
import sys
import time

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SIZE = (616, 1064)
PATCH = 14
DIM = 384
DEPTH = 12
HEADS = 6
MLP_RATIO = 4
REGISTERS = 4
PRETRAIN_GRID = 37  # DINOv2 pos_embed: 518 / 14
TAPS = (2, 5, 8, 11)  # blocks whose tokens the decoder reads (0-based)
LEVEL_CHANNELS = (96, 192, 384, 512)  # reassembled features at 1/3.5, 1/7, 1/14, 1/28
FUSE_CHANNELS = (128, 256, 256, 256)  # fusion width at the same levels
LAYER_SCALE = 0.1
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
DEPTH_RANGE = (1.0, 50.0)
SEED = 37
OUTPUT_NAMES = ["predicted_depth", "predicted_normal", "normal_confidence"]


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.scale = (DIM // HEADS) ** -0.5

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, HEADS, C // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = Attention()
        self.ls1 = nn.Parameter(torch.full((DIM,), LAYER_SCALE))
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.fc1 = nn.Linear(DIM, MLP_RATIO * DIM)
        self.fc2 = nn.Linear(MLP_RATIO * DIM, DIM)
        self.ls2 = nn.Parameter(torch.full((DIM,), LAYER_SCALE))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Encoder(nn.Module):
    """DINOv2 ViT-S/14 with registers; returns the patch tokens and cls token of the tapped blocks."""

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, DIM, PATCH, stride=PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.register_tokens = nn.Parameter(torch.zeros(1, REGISTERS, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + PRETRAIN_GRID * PRETRAIN_GRID, DIM))
        self.blocks = nn.ModuleList(Block() for _ in range(DEPTH))
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x)
        B, C, gh, gw = x.shape
        x = x.flatten(2).transpose(1, 2)
        grid = self.pos_embed[:, 1:].reshape(1, PRETRAIN_GRID, PRETRAIN_GRID, DIM).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        pos = torch.cat([self.pos_embed[:, :1], grid.flatten(2).transpose(1, 2)], dim=1)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + pos
        x = torch.cat([x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]], dim=1)
        feats = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in TAPS:
                y = self.norm(x)
                feats.append((y[:, 1 + REGISTERS :], y[:, :1]))
        return feats, (gh, gw)


class ResidualConvUnit(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """DPT feature fusion: refine the skip, add, refine, upsample x2, project to the next level's width."""

    def __init__(self, c, c_out):
        super().__init__()
        self.rcu1 = ResidualConvUnit(c)
        self.rcu2 = ResidualConvUnit(c)
        self.out = nn.Conv2d(c, c_out, 1)

    def forward(self, x, skip=None):
        if skip is not None:
            x = x + self.rcu1(skip)
        x = self.rcu2(x)
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        return self.out(x)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.readout = nn.ModuleList(nn.Linear(2 * DIM, DIM) for _ in TAPS)
        self.project = nn.ModuleList(nn.Conv2d(DIM, c, 1) for c in LEVEL_CHANNELS)
        c0, c1, c2, c3 = LEVEL_CHANNELS
        self.resize = nn.ModuleList(
            [
                nn.ConvTranspose2d(c0, c0, 4, stride=4),  # 1/14 -> 1/3.5
                nn.ConvTranspose2d(c1, c1, 2, stride=2),  # 1/14 -> 1/7
                nn.Identity(),  # 1/14
                nn.Conv2d(c3, c3, 3, stride=2, padding=1),  # 1/14 -> 1/28
            ]
        )
        self.layer_rn = nn.ModuleList(nn.Conv2d(c, f, 3, padding=1, bias=False) for c, f in zip(LEVEL_CHANNELS, FUSE_CHANNELS))
        f0, f1, f2, f3 = FUSE_CHANNELS
        self.fuse = nn.ModuleList([FusionBlock(f0, f0), FusionBlock(f1, f0), FusionBlock(f2, f1), FusionBlock(f3, f2)])
        self.depth_head = nn.Sequential(
            nn.Conv2d(f0, f0 // 2, 3, padding=1), nn.ReLU(), nn.Conv2d(f0 // 2, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 1, 1)
        )
        self.normal_head = nn.Sequential(
            nn.Conv2d(f0, f0 // 2, 3, padding=1), nn.ReLU(), nn.Conv2d(f0 // 2, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 4, 1)
        )

    def forward(self, feats, grid):
        gh, gw = grid
        levels = []
        for i, (tokens, cls) in enumerate(feats):
            t = F.gelu(self.readout[i](torch.cat([tokens, cls.expand_as(tokens)], dim=-1)))
            t = t.transpose(1, 2).reshape(t.shape[0], DIM, gh, gw)
            levels.append(self.layer_rn[i](self.resize[i](self.project[i](t))))
        x = self.fuse[3](levels[3])  # 22 x 38 -> 44 x 76
        x = self.fuse[2](x, levels[2])
        x = self.fuse[1](x, levels[1])
        x = self.fuse[0](x, levels[0])  # 1/1.75
        return self.depth_head(x), self.normal_head(x)


class VitSizeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1))
        # Normals mostly facing the camera, as in make_fidelity_net.py.
        self.register_buffer("normal_bias", torch.tensor([0.0, 0.0, -2.0]).view(1, 3, 1, 1))
        self.encoder = Encoder()
        self.decoder = Decoder()

    def forward(self, pixel_values):
        x = torch.div(pixel_values - self.mean, self.std)
        feats, grid = self.encoder(x)
        d, n = self.decoder(feats, grid)
        size = (x.shape[2], x.shape[3])
        d = F.interpolate(d, size=size, mode="bilinear", align_corners=False)
        n = F.interpolate(n, size=size, mode="bilinear", align_corners=False)
        lo, hi = math.log(DEPTH_RANGE[0]), math.log(DEPTH_RANGE[1])
        depth = torch.exp(lo + (hi - lo) * torch.sigmoid(d[:, 0]))
        normal = F.normalize(n[:, :3] + self.normal_bias, dim=1)
        confidence = F.elu(n[:, 3:4]) + 1.01
        return depth, normal, confidence


def build(seed):
    torch.manual_seed(seed)
    net = VitSizeNet()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("cls_token", "register_tokens", "pos_embed")):
                nn.init.trunc_normal_(p, std=0.02)
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.uniform_(m.bias, -0.1, 0.1)
        # Keep the residual conv units from doubling the variance at every step.
        for m in net.modules():
            if isinstance(m, ResidualConvUnit):
                m.conv2.weight.mul_(0.5)
        for head in (net.decoder.depth_head, net.decoder.normal_head):
            head[-1].weight.mul_(0.1)
    return net.eval()


def export(net, path, opset):
    buf = io.BytesIO()
    torch.onnx.export(
        net,
        torch.full((1, 3) + INPUT_SIZE, 128.0),
        buf,
        input_names=["pixel_values"],
        output_names=OUTPUT_NAMES,
        opset_version=opset,
        do_constant_folding=True,
    )
    model = onnx.load_from_string(buf.getvalue())
    for node in model.graph.node:
        node.doc_string = ""
    model.producer_name = "metric3d-trt"
    model.producer_version = "1"
    onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return model


def main():
    ap = argparse.ArgumentParser(description="Random-weight Metric3D v2 ViT-Small-sized ONNX model for benchmarking.")
    ap.add_argument("output", help="where to write the .onnx file, e.g. /tmp/vit-small-size.onnx")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()

    net = build(args.seed)
    enc = sum(p.numel() for p in net.encoder.parameters())
    dec = sum(p.numel() for p in net.decoder.parameters())
    print("parameters: %d (%.2f M; encoder %.2f M, decoder %.2f M)" % (enc + dec, (enc + dec) / 1e6, enc / 1e6, dec / 1e6))

    # One forward in PyTorch on a random image: outputs finite, depth in range.
    g = torch.Generator().manual_seed(args.seed)
    image = torch.rand((1, 3) + INPUT_SIZE, generator=g) * 255.0
    t = time.time()
    with torch.no_grad():
        depth, normal, conf = net(image)
    print("torch forward: %.1f s" % (time.time() - t))
    H, W = INPUT_SIZE
    assert depth.shape == (1, H, W) and normal.shape == (1, 3, H, W) and conf.shape == (1, 1, H, W)
    for name, v in zip(OUTPUT_NAMES, (depth, normal, conf)):
        assert torch.isfinite(v).all(), name + " has non-finite values"
    assert (depth > 0).all() and (conf > 0).all()
    print(
        "depth min %.3f mean %.3f max %.3f std %.3f; confidence mean %.3f; normal z mean %.3f"
        % (depth.min(), depth.mean(), depth.max(), depth.std(), conf.mean(), normal[:, 2].mean())
    )

    t = time.time()
    export(net, args.output, args.opset)
    print("export (opset %d): %.1f s" % (args.opset, time.time() - t))
    print("%s: %d bytes (%.1f MB)" % (args.output, os.path.getsize(args.output), os.path.getsize(args.output) / 1e6))


if __name__ == "__main__":
    sys.exit(main())
