#!/usr/bin/python3
"""Build the tiny synthetic ONNX models used by the tests and the demo.

Writes:
  test/fixtures/models/oracle-upstream.onnx      upstream contract, depth = R + G/256
  test/fixtures/models/oracle-community.onnx     community contract, dynamic H/W, 3 outputs
  test/fixtures/models/nan-upstream.onnx         upstream contract, every depth value NaN
  test/fixtures/models/wrong-contract.onnx       unrelated I/O names (x -> y)
  test/fixtures/models/wrong-size-upstream.onnx  upstream names, 512 x 512
  test/fixtures/models/cubic-posembed-upstream.onnx  oracle-upstream plus a ViT-style
                                                 cubic Resize of a position embedding
  models/demo.onnx                               ground-plane prior with the community contract

Every model is checked with onnx.checker and evaluated against a numpy version of
its formula (onnx.reference.ReferenceEvaluator when the installed onnx has it,
otherwise the small numpy interpreter below). Output is byte-for-byte deterministic.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "models")
DEMO_DIR = os.path.join(ROOT, "models")

PRODUCER = "metric3d-trt"
PRODUCER_VERSION = "1"
TOL = 1e-4
F32 = TensorProto.FLOAT


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def vi(name, shape, elem=F32):
    return helper.make_tensor_value_info(name, elem, shape)


def make(graph, opset):
    model = helper.make_model(
        graph,
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        opset_imports=[helper.make_opsetid("", opset)],
    )
    # Pin the IR version so the bytes do not depend on the onnx package defaults.
    model.ir_version = 7 if opset <= 12 else 8
    model.model_version = 1
    onnx.checker.check_model(model, full_check=True)
    return model


def conv1x1_weight(rows):
    """rows: list of per-output-channel [wR, wG, wB] -> [out, 3, 1, 1] float32."""
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), 3, 1, 1)


# --------------------------------------------------------------------------- models


def oracle_upstream(size=(616, 1064)):
    h, w = size
    nodes = [helper.make_node("Conv", ["image", "w_depth"], ["pred_depth"], kernel_shape=[1, 1])]
    graph = helper.make_graph(
        nodes,
        "oracle_upstream",
        [vi("image", [1, 3, h, w])],
        [vi("pred_depth", [1, 1, h, w])],
        initializer=[init("w_depth", conv1x1_weight([[1.0, 1.0 / 256.0, 0.0]]))],
    )
    return make(graph, 11)


POS_EMBED_RESIZE = "/encoder/interpolate_pos_encoding/Resize"


def cubic_posembed_upstream():
    """oracle-upstream plus the DINOv2 position-embedding interpolation pattern.

    A [1, 4, 4, 4] embedding is upscaled x2 by a cubic Resize (what TensorRT refuses
    to build), reduced to a scalar and added times zero, so the depth is unchanged.
    """
    graph = onnx.GraphProto()
    graph.CopyFrom(oracle_upstream().graph)
    graph.name = "cubic_posembed_upstream"
    graph.node[0].output[0] = "depth_conv"
    graph.node.extend(
        [
            helper.make_node(
                "Resize",
                ["pos_embed", "", "pos_scales"],
                ["pos_resized"],
                name=POS_EMBED_RESIZE,
                mode="cubic",
                coordinate_transformation_mode="half_pixel",
                cubic_coeff_a=-0.75,
            ),
            helper.make_node("ReduceMean", ["pos_resized"], ["pos_mean"], keepdims=0),
            helper.make_node("Mul", ["pos_mean", "zero"], ["pos_zero"]),
            helper.make_node("Add", ["depth_conv", "pos_zero"], ["pred_depth"]),
        ]
    )
    pos = np.arange(64, dtype=np.float32).reshape(1, 4, 4, 4) / 64.0
    graph.initializer.extend(
        [
            init("pos_embed", pos),
            init("pos_scales", np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32)),
            init("zero", np.array(0.0, dtype=np.float32)),
        ]
    )
    return make(graph, 13)


def oracle_community():
    dyn = ["height", "width"]
    nodes = [
        helper.make_node("Conv", ["pixel_values", "w_depth"], ["depth4"], kernel_shape=[1, 1]),
        helper.make_node("Squeeze", ["depth4", "axis1"], ["predicted_depth"]),
        helper.make_node(
            "Conv", ["pixel_values", "w_normal", "b_normal"], ["predicted_normal"], kernel_shape=[1, 1]
        ),
        helper.make_node("Slice", ["pixel_values", "c_start", "c_end", "axis1"], ["blue"]),
        helper.make_node("Div", ["blue", "ten"], ["normal_confidence"]),
    ]
    graph = helper.make_graph(
        nodes,
        "oracle_community",
        [vi("pixel_values", [1, 3] + dyn)],
        [
            vi("predicted_depth", [1] + dyn),
            vi("predicted_normal", [1, 3] + dyn),
            vi("normal_confidence", [1, 1] + dyn),
        ],
        initializer=[
            init("w_depth", conv1x1_weight([[1.0, 1.0 / 256.0, 0.0]])),
            init("w_normal", conv1x1_weight([[0.0, 0.0, 1.0 / 128.0], [0, 0, 0], [0, 0, 0]])),
            init("b_normal", np.array([-1.0, -1.0, 0.5], dtype=np.float32)),
            init("axis1", np.array([1], dtype=np.int64)),
            init("c_start", np.array([2], dtype=np.int64)),
            init("c_end", np.array([3], dtype=np.int64)),
            init("ten", np.array(10.0, dtype=np.float32)),
        ],
    )
    return make(graph, 17)


def nan_upstream():
    nodes = [
        helper.make_node("Conv", ["image", "w_red"], ["red"], kernel_shape=[1, 1]),
        helper.make_node("Sub", ["red", "thousand"], ["neg"]),
        helper.make_node("Log", ["neg"], ["pred_depth"]),
    ]
    graph = helper.make_graph(
        nodes,
        "nan_upstream",
        [vi("image", [1, 3, 616, 1064])],
        [vi("pred_depth", [1, 1, 616, 1064])],
        initializer=[
            init("w_red", conv1x1_weight([[1.0, 0.0, 0.0]])),
            init("thousand", np.array(1000.0, dtype=np.float32)),
        ],
    )
    return make(graph, 11)


def wrong_contract():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])]
    graph = helper.make_graph(
        nodes,
        "wrong_contract",
        [vi("x", [1, 3, 32, 32])],
        [vi("y", [1, 1, 32, 32])],
        initializer=[init("w", conv1x1_weight([[1.0, 1.0, 1.0]]))],
    )
    return make(graph, 17)


DEMO_CAM_HEIGHT = 1.6
DEMO_FOCAL = 1000.0
DEMO_FAR = 40.0


def demo():
    """Ground-plane prior: depth = cam_h * f / (r + 0.5 - H/2) below the horizon, capped.

    1600 / max(d, 40) equals min(1600 / d, 40) for d > 0 and gives 40 for d <= 0,
    so the cap and the horizon case need no division by zero.
    """
    dyn = ["height", "width"]
    num = DEMO_CAM_HEIGHT * DEMO_FOCAL
    nodes = [
        helper.make_node("Shape", ["pixel_values"], ["in_shape"]),
        helper.make_node("Gather", ["in_shape", "idx2"], ["rows_i"], axis=0),
        helper.make_node("Range", ["zero_i", "rows_i", "one_i"], ["r_i"]),
        helper.make_node("Cast", ["r_i"], ["r_f"], to=F32),
        helper.make_node("Cast", ["rows_i"], ["rows_f"], to=F32),
        helper.make_node("Mul", ["rows_f", "half"], ["h0"]),
        helper.make_node("Add", ["r_f", "half"], ["centre"]),
        helper.make_node("Sub", ["centre", "h0"], ["d_flat"]),
        helper.make_node("Reshape", ["d_flat", "col_shape"], ["d"]),
        helper.make_node("Greater", ["d", "zero_f"], ["below"]),
        helper.make_node("Max", ["d", "d_min"], ["d_safe"]),
        helper.make_node("Div", ["numer", "d_safe"], ["geo"]),
        helper.make_node("Conv", ["pixel_values", "w_luma", "b_luma"], ["factor"], kernel_shape=[1, 1]),
        helper.make_node("Mul", ["geo", "factor"], ["predicted_depth"]),
        helper.make_node("Where", ["below", "n_ground", "n_wall"], ["n_col"]),
        helper.make_node("Expand", ["n_col", "in_shape"], ["predicted_normal"]),
        helper.make_node("Where", ["below", "c_ground", "c_wall"], ["c_col"]),
        helper.make_node("Shape", ["predicted_depth"], ["depth_shape"]),
        helper.make_node("Expand", ["c_col", "depth_shape"], ["normal_confidence"]),
    ]
    # factor = 0.9 + 0.2 * luma / 255 folded into one 1x1 conv (weights * 0.2/255, bias 0.9)
    k = 0.2 / 255.0
    graph = helper.make_graph(
        nodes,
        "ground_plane_prior",
        [vi("pixel_values", [1, 3] + dyn)],
        [
            vi("predicted_depth", [1, 1] + dyn),
            vi("predicted_normal", [1, 3] + dyn),
            vi("normal_confidence", [1, 1] + dyn),
        ],
        initializer=[
            init("idx2", np.array(2, dtype=np.int64)),
            init("zero_i", np.array(0, dtype=np.int64)),
            init("one_i", np.array(1, dtype=np.int64)),
            init("half", np.array(0.5, dtype=np.float32)),
            init("zero_f", np.array(0.0, dtype=np.float32)),
            init("col_shape", np.array([1, 1, -1, 1], dtype=np.int64)),
            init("d_min", np.array(num / DEMO_FAR, dtype=np.float32)),
            init("numer", np.array(num, dtype=np.float32)),
            init("w_luma", conv1x1_weight([[0.299 * k, 0.587 * k, 0.114 * k]])),
            init("b_luma", np.array([0.9], dtype=np.float32)),
            init("n_ground", np.array([0.0, -1.0, 0.0], dtype=np.float32).reshape(1, 3, 1, 1)),
            init("n_wall", np.array([0.0, 0.0, -1.0], dtype=np.float32).reshape(1, 3, 1, 1)),
            init("c_ground", np.array(10.0, dtype=np.float32).reshape(1, 1, 1, 1)),
            init("c_wall", np.array(1.0, dtype=np.float32).reshape(1, 1, 1, 1)),
        ],
    )
    return make(graph, 17)


# ------------------------------------------------------------- numpy expectations


def np_oracle_depth(x):
    x = x.astype(np.float64)
    return x[:, 0:1] + x[:, 1:2] / 256.0


def expect_oracle_community(x):
    x64 = x.astype(np.float64)
    depth = np_oracle_depth(x)[:, 0]
    b = x64[:, 2:3]
    n = np.concatenate([(b - 128.0) / 128.0, np.full_like(b, -1.0), np.full_like(b, 0.5)], axis=1)
    return [depth, n, b / 10.0]


def expect_demo(x):
    _, _, h, w = x.shape
    x64 = x.astype(np.float64)
    r = np.arange(h, dtype=np.float64) + 0.5
    d = r - h / 2.0
    below = d > 0
    geo = np.where(below, np.minimum(DEMO_CAM_HEIGHT * DEMO_FOCAL / np.where(below, d, 1.0), DEMO_FAR), DEMO_FAR)
    luma = 0.299 * x64[:, 0:1] + 0.587 * x64[:, 1:2] + 0.114 * x64[:, 2:3]
    depth = geo.reshape(1, 1, h, 1) * (0.9 + 0.2 * luma / 255.0)
    b = below.reshape(1, 1, h, 1)
    normal = np.concatenate(
        [np.zeros((1, 1, h, w)), np.where(b, -1.0, 0.0) * np.ones((1, 1, h, w)), np.where(b, 0.0, -1.0) * np.ones((1, 1, h, w))],
        axis=1,
    )
    conf = np.where(b, 10.0, 1.0) * np.ones((1, 1, h, w))
    return [depth, normal, conf]


# ------------------------------------------------------------------ evaluation


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _cubic_matrix(n_in, scale, a):
    """[n_out, n_in] weights of an ONNX cubic Resize along one axis (half_pixel, edge clamp)."""
    n_out = int(np.floor(n_in * scale))
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        x = (o + 0.5) / scale - 0.5
        x0 = int(np.floor(x))
        for k in range(-1, 3):
            d = abs(x - (x0 + k))
            wgt = ((a + 2) * d - (a + 3)) * d * d + 1 if d <= 1 else ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
            m[o, min(max(x0 + k, 0), n_in - 1)] += wgt
    return m


def _np_run(model, feeds):
    """Minimal numpy interpreter for the operators used in this file."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        a = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Conv":
            w = a[1]
            assert w.shape[2:] == (1, 1) and (_attr(node, "group", 1) == 1)
            y = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], a[0])
            if len(a) > 2 and a[2] is not None:
                y = y + a[2].reshape(1, -1, 1, 1)
            out = y.astype(np.float32)
        elif op == "Resize":
            assert _attr(node, "mode") == b"cubic" and _attr(node, "coordinate_transformation_mode") == b"half_pixel"
            scales = a[2]
            assert scales is not None and list(scales[:2]) == [1.0, 1.0]
            c = _attr(node, "cubic_coeff_a", -0.75)
            mh = _cubic_matrix(a[0].shape[2], float(scales[2]), c)
            mw = _cubic_matrix(a[0].shape[3], float(scales[3]), c)
            out = np.einsum("oh,pw,nchw->ncop", mh, mw, a[0]).astype(np.float32)
        elif op == "ReduceMean":
            assert len(a) == 1 and _attr(node, "axes") is None
            out = np.mean(a[0], keepdims=bool(_attr(node, "keepdims", 1))).astype(np.float32)
        elif op == "Squeeze":
            out = np.squeeze(a[0], axis=tuple(int(v) for v in a[1]))
        elif op == "Reshape":
            out = a[0].reshape(tuple(int(v) for v in a[1]))
        elif op == "Slice":
            sl = [slice(None)] * a[0].ndim
            for s, e, ax in zip(a[1], a[2], a[3]):
                sl[int(ax)] = slice(int(s), int(e))
            out = a[0][tuple(sl)]
        elif op == "Shape":
            out = np.array(a[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(a[0], a[1], axis=_attr(node, "axis", 0))
        elif op == "Range":
            out = np.arange(a[0], a[1], a[2]).astype(a[0].dtype)
        elif op == "Cast":
            out = a[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[_attr(node, "to")])
        elif op == "Expand":
            shape = np.broadcast_shapes(a[0].shape, tuple(int(v) for v in a[1]))
            out = np.broadcast_to(a[0], shape).copy()
        elif op in ("Add", "Sub", "Mul", "Div", "Max", "Greater", "Where", "Log"):
            with np.errstate(invalid="ignore", divide="ignore"):
                out = {
                    "Add": lambda: a[0] + a[1],
                    "Sub": lambda: a[0] - a[1],
                    "Mul": lambda: a[0] * a[1],
                    "Div": lambda: a[0] / a[1],
                    "Max": lambda: np.maximum(a[0], a[1]),
                    "Greater": lambda: a[0] > a[1],
                    "Where": lambda: np.where(a[0], a[1], a[2]),
                    "Log": lambda: np.log(a[0]),
                }[op]()
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = np.asarray(out)
    return [env[o.name] for o in model.graph.output]


def run_model(model, feeds):
    try:
        from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
    except ImportError:
        return _np_run(model, feeds), "numpy interpreter (onnx %s has no onnx.reference)" % onnx.__version__
    return ReferenceEvaluator(model).run(None, feeds), "onnx.reference.ReferenceEvaluator"


def max_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise SystemExit("shape mismatch: got %s, expected %s" % (got.shape, want.shape))
    both_nan = np.isnan(got) & np.isnan(want)
    diff = np.abs(got - want)
    diff[both_nan] = 0.0
    diff[np.isnan(diff)] = np.inf
    return float(diff.max()) if diff.size else 0.0


# ------------------------------------------------------------------------ main


def save(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = model.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    print("wrote %s (%d bytes)" % (os.path.relpath(path, ROOT), len(data)))


def main():
    rng = np.random.RandomState(1234)

    def image(h, w):
        return rng.randint(0, 256, size=(1, 3, h, w)).astype(np.float32)

    # (path, model, input name, input, expected outputs)
    fx = lambda n: os.path.join(FIXTURES, n)
    cases = []
    x = image(616, 1064)
    cases.append((fx("oracle-upstream.onnx"), oracle_upstream(), "image", x, [np_oracle_depth(x)]))
    x = image(28, 42)
    cases.append((fx("oracle-community.onnx"), oracle_community(), "pixel_values", x, expect_oracle_community(x)))
    x = image(616, 1064)
    cases.append((fx("nan-upstream.onnx"), nan_upstream(), "image", x, [np.full((1, 1, 616, 1064), np.nan)]))
    x = image(32, 32)
    cases.append((fx("wrong-contract.onnx"), wrong_contract(), "x", x, [x.astype(np.float64).sum(axis=1, keepdims=True)]))
    x = image(512, 512)
    cases.append((fx("wrong-size-upstream.onnx"), oracle_upstream((512, 512)), "image", x, [np_oracle_depth(x)]))
    demo_model = demo()
    x = image(28, 42)
    cases.append((os.path.join(DEMO_DIR, "demo.onnx"), demo_model, "pixel_values", x, expect_demo(x)))
    x = image(616, 1064)
    cases.append((fx("cubic-posembed-upstream.onnx"), cubic_posembed_upstream(), "image", x, [np_oracle_depth(x)]))

    for path, model, _, _, _ in cases:
        save(model, path)
    print()

    checks = [(os.path.basename(p), m, i, x, w) for p, m, i, x, w in cases]
    # odd height: the horizon falls on a pixel centre
    x = image(29, 14)
    checks.append(("demo.onnx (H=29)", demo_model, "pixel_values", x, expect_demo(x)))

    failed = False
    for label, model, in_name, x, want in checks:
        got, how = run_model(model, {in_name: x})
        errs = [max_err(g, w) for g, w in zip(got, want)]
        names = [o.name for o in model.graph.output]
        detail = ", ".join("%s %s max|err|=%.3g" % (n, tuple(g.shape), e) for n, g, e in zip(names, got, errs))
        if label.startswith("nan-"):
            all_nan = bool(np.isnan(got[0]).all())
            detail += ", all NaN: %s" % all_nan
            failed = failed or not all_nan
        print("%-30s input %s -> %s" % (label, tuple(x.shape), detail))
        if any(e > TOL for e in errs):
            failed = True
    print("\nevaluated with %s; tolerance %g" % (how, TOL))
    if failed:
        print("FAILED: a model differs from its numpy formula", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
