"""Command line: ``prunekit run | sweep | results | profiles | bench | speed | prune | inspect`` (it prints)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from prunekit.cli_prune import add_inspect_parser, add_prune_parser
from prunekit.criteria import available_criteria, get_criterion
from prunekit.data import DATASET_NAMES
from prunekit.experiments.config import PRUNE_AT
from prunekit.models import available_models
from prunekit.experiments.profiles import PROFILES, default_profile_name, get_profile
from prunekit.training.loop import PRECISIONS

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEFAULT_CRITERIA = "snip,snip-it,random"
DEFAULT_SPARSITY = 0.98
RESULTS_BY = "model,dataset,criterion,prune_at,sparsity,epochs"


class UsageError(ValueError):
    """A bad command-line value (reported on one line, exit code 2)."""


# ----------------------------------------------------------------------------------------------- value parsing


def _split(text: str) -> list[str]:
    """Comma-separated items, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _float_list(text: str) -> list[float]:
    """Comma-separated floats (argparse ``type``)."""
    try:
        return [float(item) for item in _split(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _seed_list(text: str) -> list[int]:
    """``N`` means seeds 0..N-1; ``a,b,c`` lists them (argparse ``type``)."""
    try:
        items = [int(item) for item in _split(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed count N or comma-separated seeds, got {text!r}") from None
    if not items or any(i < 0 for i in items) or (len(items) == 1 and items[0] < 1):
        raise argparse.ArgumentTypeError(f"expected a seed count >= 1 or seeds >= 0, got {text!r}")
    return list(range(items[0])) if len(items) == 1 and "," not in text else items


# ----------------------------------------------------------------------------------------------- parser


def _add_budget_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``sweep``: the profile and what may override its budgets."""
    parser.add_argument("--profile", default=None,
                        help=f"budget profile: {', '.join(f'{p.name} ({p.description})' for p in PROFILES.values())}. "
                             "Default: $PRUNEKIT_PROFILE, else cpu")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the profile's)")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N training samples (default: the profile's; cpu/paper use all)")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="evaluate on the first N test samples (default: the profile's; cpu/paper use all)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training samples each criterion scoring round draws (default: the profile's; paper 2560)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="training batch size (default: the dataset's paper batch size, 512 for MNIST)")
    parser.add_argument("--prune-interval", type=float, default=None,
                        help="τ: epochs (fractions allowed) of training before each pruning step with --prune-at "
                             "during (default: 4 of 80 epochs, scaled to the profile's epochs)")
    parser.add_argument("--rewind-epoch", type=float, default=None,
                        help="IMP: rewind surviving weights to their values at this epoch after each pruning step "
                             "(default for imp-global: 6 of 80 epochs, scaled to the profile's epochs)")
    parser.add_argument("--ablation", default=None,
                        help="sanity check of a mask found before training: none, shuffle, reinit or invert")
    parser.add_argument("--option", dest="options", action="append", default=None, metavar="NAME=VALUE",
                        help="criterion option, repeatable, e.g. --option lam=0.001 for hoyersquare, "
                             "--option rounds=20 for force")
    parser.add_argument("--steps", type=int, default=None,
                        help="SNIP-it schedule steps s (rounds = s + 2; default 5)")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'; the run key holds "
                             "the device type (not the index) unless the run is CPU fp32")
    parser.add_argument("--precision", default=None, choices=PRECISIONS,
                        help="numeric mode: fp32, or bf16/fp16 autocast (default auto: bf16 on an Ampere GPU, "
                             "fp16 with a GradScaler before, fp32 on CPU)")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic kernels (cuDNN, torch.use_deterministic_algorithms): a GPU run repeats "
                             "bit for bit on the same GPU and software, at some speed; part of the run key")
    parser.add_argument("--results-dir", default="results",
                        help="results store folder, one JSON record per run (default: results)")
    parser.add_argument("--data-root", default=None,
                        help="dataset root in torchvision layout (default: $PRUNEKIT_DATA, else ./data)")
    parser.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bars")


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="prune, train and evaluate one configuration",
                                 description="Run one configuration through the results store (a stored run is "
                                             "not recomputed) and print a summary.")
    parser.add_argument("--model", required=True, help=f"network: {', '.join(available_models())}")
    parser.add_argument("--dataset", default="mnist", help=f"dataset: {', '.join(DATASET_NAMES)} (default: mnist)")
    parser.add_argument("--criterion", default="snip-it",
                        help=f"pruning criterion: {', '.join(available_criteria())}, or 'none' for the dense "
                             "baseline (default: snip-it)")
    parser.add_argument("--sparsity", type=float, default=None,
                        help=f"fraction of weights to prune, in [0, 1) (default: {DEFAULT_SPARSITY}; 0 with 'none')")
    parser.add_argument("--prune-at", default=None,
                        help=f"when to prune: {', '.join(PRUNE_AT)} (default: before; none for the dense baseline)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of initialisation, data order and scoring")
    parser.add_argument("--structured", action="store_true",
                        help="prune whole nodes with a node criterion (snap-it, cnip-it, random before training; "
                             "efficientconvnets, gatedecorators, group-hs after it; l0 during it) and train/return "
                             "the physically shrunk network; sparsity is a node sparsity")
    _add_budget_options(parser)
    parser.add_argument("--no-store", action="store_true", help="compute without reading or writing the store")
    parser.set_defaults(handler=_cmd_run)


def _add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sweep", help="run a grid of criteria × sparsities × seeds, resumably",
                                 description="Run every configuration of a grid that the store lacks; each finished "
                                             "run is stored at once, so an interrupted sweep resumes where it stopped.")
    parser.add_argument("--model", type=_split, required=True,
                        help=f"network(s), comma-separated, of: {', '.join(available_models())}")
    parser.add_argument("--dataset", type=_split, default=["mnist"],
                        help=f"dataset(s), comma-separated, of: {', '.join(DATASET_NAMES)} (default: mnist)")
    parser.add_argument("--criteria", type=_split, default=_split(DEFAULT_CRITERIA),
                        help=f"criteria, comma-separated, of: {', '.join(available_criteria())}; 'none' adds a dense "
                             f"baseline per seed (default: {DEFAULT_CRITERIA})")
    parser.add_argument("--sparsities", type=_float_list, default=None,
                        help="target sparsities, comma-separated (default: the profile's grid)")
    parser.add_argument("--seeds", type=_seed_list, default=None,
                        help="N for seeds 0..N-1, or a comma-separated list (default: the profile's seed count)")
    _add_budget_options(parser)
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local: sequential in this process; ray: one task per run on a Ray cluster")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address (e.g. 'auto' or 'ray://host:10001'); default: start a local instance")
    parser.add_argument("--cpus-per-task", type=int, default=None,
                        help="Ray: CPUs (and torch threads) per CPU run (default: this process's torch threads)")
    parser.add_argument("--prune-at", default=None,
                        help=f"when the pruned runs prune: {', '.join(PRUNE_AT[1:])} (default: before)")
    parser.add_argument("--dry-run", action="store_true", help="list how many runs are stored and missing, run nothing")
    parser.set_defaults(handler=_cmd_sweep)


def _add_results_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("results", help="table of what the results store holds, seeds aggregated",
                                 description="Aggregate the stored runs over seeds: mean, std, n and the bound "
                                             "1.96·σ/√n of accuracy, weight and node sparsity.")
    parser.add_argument("--results-dir", default="results", help="results store folder (default: results)")
    parser.add_argument("--by", type=_split, default=_split(RESULTS_BY),
                        help=f"columns to group by, comma-separated (default: {RESULTS_BY})")
    parser.add_argument("--best", action="store_true",
                        help="per method, only the sparsity level with the highest mean harmonic mean of "
                             "accuracy and sparsity (as the paper's tables)")
    parser.add_argument("--stale", action="store_true",
                        help="list the records today's code would compute differently: made by another code version "
                             "(source hash) that no check showed to give the same numbers")
    parser.add_argument("--verify", type=int, metavar="N", default=None,
                        help="re-run up to N stale records of every (code version, method family) in the store "
                             "under today's code, compare them exactly and record the check (a version is fresh for "
                             "the families whose sample reproduced)")
    parser.add_argument("--refresh", action="store_true",
                        help="re-run every stale record under today's code and overwrite it")
    parser.add_argument("--worker", type=int, default=0, help="--refresh: this process's share (0-based)")
    parser.add_argument("--workers", type=int, default=1,
                        help="--refresh: how many processes share the stale records (each takes every N-th)")
    parser.add_argument("--chapter", action="append", default=None, metavar="NAME",
                        help="--stale/--refresh: only the records the book chapter NAME reads (repeatable; the store "
                             "must be the chapter's profile's, results/<profile>)")
    parser.add_argument("--data-root", default=None, help="data root for --verify/--refresh (default: PRUNEKIT_DATA)")
    parser.set_defaults(handler=_cmd_results)


def _add_profiles_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("profiles", help="list the budget profiles",
                                 description="Show every profile's budgets (epochs, seeds, data limits, sparsities).")
    parser.set_defaults(handler=_cmd_profiles)


def _add_bench_parser(commands: argparse._SubParsersAction) -> None:
    # Options belong to prunekit.measure.bench, imported only when this command runs; see `prunekit bench --help`.
    parser = commands.add_parser("bench", help="benchmarks (options: prunekit bench --help)", add_help=False,
                                 description="Benchmarks provided by prunekit.measure.bench.")
    parser.set_defaults(handler=_cmd_bench)


def _add_speed_parser(commands: argparse._SubParsersAction) -> None:
    # Options belong to prunekit.measure.speed, imported only when this command runs.
    parser = commands.add_parser("speed", help="time vs roofline of a dense, masked and shrunk network "
                                 "(options: prunekit speed --help)", add_help=False)
    parser.set_defaults(handler=_cmd_speed)


def _add_claims_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("claims", help="the paper's registered claims with their tests and verdicts",
                                 description="Every registered claim: verbatim sentence, location, our reading, test, "
                                             "evidence and verdict (holds / contradicted / inconclusive).")
    parser.add_argument("--list", action="store_true", help="print every registered claim (the default)")
    parser.add_argument("--results", default="results", help="folder holding one store per profile")
    parser.set_defaults(handler=_cmd_claims)


def build_parser() -> argparse.ArgumentParser:
    """The ``prunekit`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="prunekit", description="SNIP-it / SNAP-it pruning experiments.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more: -v info, -vv debug (also shows tracebacks of errors)")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{run,sweep,results,profiles,bench,speed,prune,inspect}")
    for add in (_add_run_parser, _add_sweep_parser, _add_results_parser, _add_profiles_parser, _add_bench_parser,
                _add_speed_parser, add_prune_parser, add_inspect_parser, _add_claims_parser):
        add(commands)
    return parser


# ----------------------------------------------------------------------------------------------- commands


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """RunConfig fields given on the command line (None means: keep the profile's / the default)."""
    names = ("epochs", "train_limit", "test_limit", "samples", "batch_size", "steps", "prune_interval",
             "rewind_epoch", "ablation")
    values = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if getattr(args, "structured", False):
        values["structured"] = True
    if args.deterministic:
        values["deterministic"] = True
    if args.precision is not None:
        values["precision"] = args.precision
    if args.options:
        values["criterion_options"] = dict(_option(text) for text in args.options)
    values["device"] = args.device
    return values


def _option(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` → (name, value) with the value read as int, float, bool or else kept as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--option must look like NAME=VALUE, got {text!r}")
    raw = raw.strip()
    if raw.lower() in ("true", "false"):
        return name.strip(), raw.lower() == "true"
    for kind in (int, float):
        try:
            return name.strip(), kind(raw)
        except ValueError:
            pass
    return name.strip(), raw


def _profile(args: argparse.Namespace):
    """The profile chosen on the command line or by the environment."""
    return get_profile(args.profile or default_profile_name())


def _run_config(args: argparse.Namespace):
    """The RunConfig of ``prunekit run``."""
    from prunekit.experiments.config import NO_CRITERION, RunConfig

    name = args.criterion.strip().lower()
    if args.structured:
        from prunekit.structured import available_node_criteria, get_node_criterion

        no_target = name in available_node_criteria() and not get_node_criterion(name).targets_sparsity
    else:
        no_target = name == NO_CRITERION or (name in available_criteria() and not get_criterion(name).targets_sparsity)
    sparsity = args.sparsity if args.sparsity is not None else (0.0 if no_target else DEFAULT_SPARSITY)
    return RunConfig.from_profile(_profile(args), model=args.model, dataset=args.dataset, criterion=args.criterion,
                                  sparsity=sparsity, prune_at=args.prune_at, seed=args.seed, **_overrides(args))


def _summary(record, where: str) -> str:
    """A few lines describing one run."""
    m, r, c = record.metrics, record.resources, record.config
    reduction = m["dense_inference_flops"] / m["inference_flops"] if m["inference_flops"] else float("inf")
    lines = [
        f"run {record.key}: {c.model} on {c.dataset}, {c.criterion} at {c.sparsity:g} ({c.prune_at}), "
        f"{c.epochs} epochs, seed {c.seed}",
        f"  accuracy         {m['accuracy']:.4f}",
        f"  weight sparsity  {m['weight_sparsity']:.4f}",
        f"  node sparsity    {m['node_sparsity']:.4f}",
        f"  prune time       {r['prune_seconds']:.1f} s",
        f"  train time       {r['train_seconds']:.1f} s",
        f"  FLOPs reduction  {reduction:.1f}x (inference, per sample)",
        f"  record           {where}",
    ]
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from prunekit.experiments.run import run
    from prunekit.experiments.store import ResultStore

    config = _run_config(args)
    if args.no_store:
        record = run(config, progress=not args.no_progress, data_root=args.data_root)
        print(_summary(record, "not stored (--no-store)"))
        return EXIT_OK
    store = ResultStore(args.results_dir)
    record = store.get(config)
    cached = record is not None
    if record is None:
        record = run(config, progress=not args.no_progress, data_root=args.data_root)
        store.put(record)
    print(_summary(record, f"{store.path_for(config)}{' (already stored, not recomputed)' if cached else ''}"))
    return EXIT_OK


def _sweep_configs(args: argparse.Namespace):
    """The configs of ``prunekit sweep``."""
    from prunekit.experiments.config import NO_CRITERION, RunConfig
    from prunekit.experiments.sweep import method_grid

    profile = _profile(args)
    overrides = _overrides(args)
    options = overrides.pop("criterion_options", None)
    base = RunConfig.from_profile(profile, model=args.model[0], dataset=args.dataset[0], **overrides)
    configs = method_grid(base, criteria=args.criteria, sparsities=args.sparsities or profile.sparsities,
                          seeds=args.seeds or profile.seed_list, model=args.model, dataset=args.dataset)
    # the dense baselines never prune; every pruned run takes --option and prunes when --prune-at says
    changes = {k: v for k, v in (("criterion_options", options), ("prune_at", args.prune_at)) if v is not None}
    return [c if c.criterion == NO_CRITERION or not changes else c.replace(**changes) for c in configs]


def _cmd_sweep(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from prunekit.experiments.stats import aggregate
    from prunekit.experiments.store import ResultStore, records_frame
    from prunekit.experiments.sweep import missing, sweep

    configs = _sweep_configs(args)
    store = ResultStore(args.results_dir)
    if args.dry_run:
        todo = missing(configs, store)
        print(f"{len(configs)} runs in the grid, {len(configs) - len(todo)} stored, {len(todo)} to run "
              f"(store {store.root})")
        return EXIT_OK
    records = sweep(configs, store, backend=args.backend, address=args.address, progress=not args.no_progress,
                    data_root=args.data_root, cpus_per_task=args.cpus_per_task)
    table = aggregate(records_frame(records), by=_split(RESULTS_BY))
    print(_format(table))
    print(f"{len(records)} runs in {store.root}")
    return EXIT_OK


def _format(table, values: Sequence[str] = ("accuracy", "weight_sparsity", "node_sparsity")) -> str:
    """An ``aggregate`` table as fixed-width text: group columns, n, then mean and ± bound of each value."""
    stats = [c for v in values for c in (f"{v}_mean", f"{v}_std", f"{v}_n", f"{v}_bound")]
    compact = table[[c for c in table.columns if c not in stats]].copy()
    compact["n"] = table[f"{values[0]}_n"]
    for value in values:
        if f"{value}_mean" in table.columns:
            compact[value] = table[f"{value}_mean"]
            compact[f"±{value}"] = table[f"{value}_bound"]
    return compact.to_string(index=False, float_format=lambda x: f"{x:.4f}")


def _cmd_freshness(args: argparse.Namespace) -> int:
    """``results --stale / --verify N / --refresh``: which records today's code would compute differently."""
    from prunekit.experiments.freshness import record_source, refresh, stale_records, verification_sample, verify
    from prunekit.experiments.store import ResultStore

    store = ResultStore(args.results_dir)
    records = _chapters_records(store, args.chapter) if args.chapter else store.records()
    if args.verify is not None:
        sample = verification_sample(stale_records(records, store), args.verify)
        for check in verify(store, sample, data_root=args.data_root):
            verdict = "reproduced" if not check.mismatched else f"differs in {sorted(check.mismatched)}"
            print(f"code {check.source_hash}: {len(check.reproduced)} reproduced exactly, {verdict}")
    stale = stale_records(records, store)
    if args.refresh and stale:
        if not 0 <= args.worker < args.workers:
            raise ValueError(f"--worker must be in [0, --workers={args.workers}), got {args.worker}")
        refresh(store, stale[args.worker::args.workers], data_root=args.data_root)
        records = _chapters_records(store, args.chapter) if args.chapter else store.records()
        stale = stale_records(records, store)
    for record in stale:
        c = record.config
        print(f"{record.key}  {c.model} {c.criterion} {c.prune_at} {c.sparsity:g} seed {c.seed}  "
              f"code {record_source(record)}")
    print(f"{len(stale)} of {len(records)} records in {store.root} are stale")
    return EXIT_OK


def _chapters_records(store, chapters: Sequence[str]) -> list:
    """The stored records the named book chapters read, each once (profile: the store's folder name)."""
    from prunekit.paper.coverage import chapters_records

    return chapters_records(store.root.name, chapters, results_dir=store.root)


def _cmd_results(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from prunekit.experiments.stats import add_harmonic_mean, aggregate, best_hm
    from prunekit.experiments.store import ResultStore

    if args.stale or args.verify is not None or args.refresh:
        return _cmd_freshness(args)
    frame = ResultStore(args.results_dir).to_frame()
    if frame.empty:
        print(f"no records in {args.results_dir}")
        return EXIT_OK
    frame = add_harmonic_mean(frame)
    values = ("accuracy", "weight_sparsity", "node_sparsity", "hm")
    if args.best:
        table = best_hm(frame, by=[c for c in args.by if c != "sparsity"])
    else:
        table = aggregate(frame, by=args.by, values=values)
    print(_format(table, values))
    return EXIT_OK


def _cmd_profiles(args: argparse.Namespace, extra: Sequence[str]) -> int:
    default = default_profile_name()
    for p in PROFILES.values():
        marker = " (default)" if p.name == default else ""
        print(f"{p.name}{marker}: {p.description}\n  epochs {p.epochs}, seeds {p.seeds}, train_limit {p.train_limit}, "
              f"test_limit {p.test_limit}, samples {p.samples}, sparsities {', '.join(map(str, p.sparsities))}")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace, extra: Sequence[str]) -> int:
    try:
        bench = importlib.import_module("prunekit.measure.bench")
    except ModuleNotFoundError as err:
        if err.name != "prunekit.measure.bench":
            raise
        raise UsageError("the bench command is not available in this installation (prunekit/measure/bench.py is missing)") \
            from None
    parser = argparse.ArgumentParser(prog="prunekit bench", description=(bench.__doc__ or "").strip() or None)
    bench.add_arguments(parser)
    return int(bench.main(parser.parse_args(list(extra))) or EXIT_OK)


def _cmd_speed(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from prunekit.measure import speed as speed_report

    parser = argparse.ArgumentParser(prog="prunekit speed", description=(speed_report.__doc__ or "").splitlines()[0])
    speed_report.add_arguments(parser)
    return int(speed_report.main(parser.parse_args(list(extra))) or EXIT_OK)


def _cmd_claims(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from prunekit.paper import registry

    registry.main(["--list", "--results", args.results])
    return EXIT_OK


# ----------------------------------------------------------------------------------------------- entry point


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``prunekit`` command line; returns the exit code (2 for bad input)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("bench", "speed"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging(args.verbose)
    handler: Callable[[argparse.Namespace, Sequence[str]], int] = args.handler
    try:
        return handler(args, extra)
    except (ValueError, FileNotFoundError) as err:
        log.debug("error details", exc_info=True)
        message = str(err) if isinstance(err, FileNotFoundError) else _one_line(err)
        print(f"prunekit: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as err:
        log.debug("error details", exc_info=True)
        print(f"prunekit: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("prunekit: interrupted (finished runs are stored)", file=sys.stderr)
        return 130
