"""``make gpu-check``: the CUDA paths on a real card, in one script of a few minutes (issue #19).

Sections: the card and its numeric mode; ``prunekit bench`` in fp32, bf16 and fp16 (bound and epochs in
one mode); the AMP path (bf16 and fp16 + GradScaler epochs); CUDA peak memory of a dense and a shrunk
run; one Table 3 row at the ``mnist-paper`` budget (MLP5, SNIP-it at 97 %, seed 0); the ``gpu``-marked
tests. Without CUDA it says so and exits 0. Exit status 1 when a section fails (all sections still run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

NO_GPU = "no GPU present (torch.cuda.is_available() is False): nothing to check"
BENCH_COLUMNS = ("precision", "gemm_gflops_per_s", "gemm_bound_s", "dense_epoch_s", "masked_epoch_s",
                 "dense_vs_bound", "masked_vs_bound", "mask_overhead", "scoring_vs_epoch")


def format_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A fixed-width text table of ``rows`` (floats with 3 significant digits, missing cells as '-')."""
    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3g}" if math.isfinite(value) else str(value)
        return str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def device_section() -> str:
    from prunekit.training.loop import resolve_precision

    device = torch.device("cuda")
    major, minor = torch.cuda.get_device_capability(device)
    return (f"{torch.cuda.get_device_name(device)}, compute capability {major}.{minor}, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}; a run's auto precision here: {resolve_precision(device, amp=True)}")


def bench_section(limit: int | None) -> str:
    from prunekit.measure.bench import run_benchmark

    results = [run_benchmark("mlp5", "mnist", 0.98, device="cuda", repeats=2, limit=limit, precision=p).as_dict()
               for p in ("fp32", "bf16", "fp16")]
    return format_table(results, BENCH_COLUMNS)


def amp_section() -> str:
    from prunekit.data import make_batches
    from prunekit.models import build_model
    from prunekit.training.loop import TrainConfig, grad_scaler, make_optimizer, seed_everything, train_epoch

    device = torch.device("cuda")
    batches = make_batches("mnist", train=True, device=device, limit=8192, seed=0)
    rows = []
    for precision in ("bf16", "fp16"):
        seed_everything(0)
        model = build_model("mlp5", (1, 28, 28), 10).to(device)
        config = TrainConfig(epochs=1, progress=False, device="cuda", precision=precision)
        optimizer, scaler = make_optimizer(model, config), grad_scaler(device, precision)
        losses = [train_epoch(model, batches, optimizer, config, device, scaler)[0] for _ in range(2)]
        fp32 = all(p.dtype == torch.float32 for p in model.parameters())
        if not (all(math.isfinite(v) for v in losses) and losses[1] < losses[0] and fp32):
            raise AssertionError(f"{precision}: losses {losses}, fp32 weights {fp32}")
        rows.append({"precision": precision, "scaler": "GradScaler" if scaler else "-",
                     "scale": scaler.get_scale() if scaler else None, "loss epoch 1": losses[0],
                     "loss epoch 2": losses[1]})
    return format_table(rows, ("precision", "scaler", "scale", "loss epoch 1", "loss epoch 2"))


def memory_section() -> str:
    from prunekit.experiments.config import RunConfig
    from prunekit.experiments.run import run

    base = dict(model="mlp5", dataset="mnist", epochs=1, train_limit=8192, test_limit=2048, samples=512,
                scoring_batch_size=256, device="cuda")
    rows = []
    for name, fields in (("dense", dict(criterion="none")),
                         ("snap-it 50 % (shrunk)", dict(criterion="snap-it", sparsity=0.5, structured=True))):
        record = run(RunConfig.from_profile("smoke", **base, **fields), progress=False)
        rows.append({"run": name, "peak_memory_bytes": record.resources["peak_memory_bytes"],
                     "train_memory_bytes": record.metrics["train_memory_bytes"],
                     "dense_train_memory_bytes": record.metrics["dense_train_memory_bytes"]})
    if not rows[1]["peak_memory_bytes"] < rows[0]["peak_memory_bytes"]:
        raise AssertionError(f"the shrunk run's CUDA peak is not below the dense run's: {rows}")
    return format_table(rows, ("run", "peak_memory_bytes", "train_memory_bytes", "dense_train_memory_bytes"))


def table3_section(epochs: int | None) -> str:
    from prunekit.experiments.config import RunConfig
    from prunekit.experiments.run import run

    overrides = {} if epochs is None else {"epochs": epochs}
    config = RunConfig.from_profile("mnist-paper", model="mlp5", dataset="mnist", criterion="snip-it",
                                    sparsity=0.97, seed=0, device="cuda", **overrides)
    record = run(config, progress=False)
    cpu_key = config.replace(device="cpu", precision="fp32").key
    row = {"key": record.key, "precision": record.config.precision, "epochs": record.config.epochs,
           "accuracy": record.accuracy, "weight_sparsity": record.metrics["weight_sparsity"],
           "train_s": record.resources["train_seconds"], "cpu fp32 key": cpu_key}
    stored = REPO / "results" / "mnist-paper" / f"{cpu_key}.json"  # read only
    if stored.is_file():
        row["cpu fp32 accuracy"] = json.loads(stored.read_text())["metrics"]["accuracy"]
    if record.key == cpu_key:
        raise AssertionError("the CUDA run shares its key with the CPU fp32 record")
    return format_table([row], list(row))


def gpu_tests_section() -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "tests", "-q", "-p", "no:cacheprovider"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    tail = "\n".join(done.stdout.strip().splitlines()[-15:])
    if done.returncode != 0:
        raise AssertionError(f"pytest -m gpu failed (exit {done.returncode}):\n{tail}\n{done.stderr[-2000:]}")
    return tail


def run_sections(sections: Sequence[tuple[str, Callable[[], str]]], out=sys.stdout) -> int:
    """Run each section, print its title and output (or its traceback); 1 if any failed, else 0."""
    failed = []
    for title, section in sections:
        out.write(f"\n== {title}\n")
        out.flush()
        try:
            out.write(section() + "\n")
        except Exception:  # reported and counted: one GPU session should show every failing section
            failed.append(title)
            out.write("FAILED\n" + traceback.format_exc())
        out.flush()
    out.write(f"\n{len(sections) - len(failed)} of {len(sections)} sections passed"
              + (f"; failed: {', '.join(failed)}\n" if failed else "\n"))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table3-epochs", type=int, default=None,
                        help="epochs of the Table 3 row (default: the mnist-paper profile's 80)")
    parser.add_argument("--bench-limit", type=int, default=None, help="training samples per bench epoch (default all)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(NO_GPU)
        return 0
    os.environ.setdefault("PRUNEKIT_DATA", str(REPO / "data"))
    sections = [
        ("device", device_section),
        ("prunekit bench --device cuda (MLP5 on MNIST, SNIP-it 98 %)", lambda: bench_section(args.bench_limit)),
        ("AMP: bf16 and fp16 + GradScaler epochs", amp_section),
        ("CUDA peak memory: dense vs shrunk run", memory_section),
        ("Table 3 row at the mnist-paper budget: MLP5, SNIP-it 97 %, seed 0", lambda: table3_section(args.table3_epochs)),
        ("pytest -m gpu", gpu_tests_section),
    ]
    return run_sections(sections)


if __name__ == "__main__":
    sys.exit(main())
