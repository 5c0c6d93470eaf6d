"""``python -m benchmarks SUITE [--quick] [--out FILE]`` — run one suite, or ``all`` of them.

A suite is registered below as ``"module:function"`` (imported only when it runs); the
function is a ``benchmarks.common.Suite``: ``run(*, quick: bool) -> Metrics``. Each result is
written to ``--out`` or ``benchmarks/results/<suite>.json``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from benchmarks.common import Metrics, Suite, build_result, machine_info, write_result

SUITES: dict[str, str] = {
    "approvals": "benchmarks.approvals:run",
    "bus": "benchmarks.bus:run",
    "dora": "benchmarks.dora:run",
    "gateway": "benchmarks.gateway:run",
    "policy": "benchmarks.policy:run",
    "rollout": "benchmarks.rollout:run",
}
ALL = "all"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def default_out(suite: str) -> Path:
    return RESULTS_DIR / f"{suite}.json"


def load_suite(name: str) -> Suite:
    module_name, _, attr = SUITES[name].partition(":")
    return cast(Suite, getattr(importlib.import_module(module_name), attr))


def _format(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def print_summary(suite: str, metrics: Metrics, out: Path, elapsed_s: float) -> None:
    print(f"\n{suite}: {len(metrics)} metrics in {elapsed_s:.1f} s → {out}")
    width = max((len(name) for name in metrics), default=0)
    for name, m in metrics.items():
        target = m["target"]
        verdict = ""
        if target is not None:
            met = m["value"] >= target if m["better"] == "higher" else m["value"] <= target
            verdict = f"  (target {_format(target)}: {'met' if met else 'NOT met'})"
        print(f"  {name:<{width}}  {_format(m['value'])} {m['unit']}{verdict}")


def run_suite(name: str, *, quick: bool, out: Path) -> None:
    machine = machine_info()  # before the run: the load average says how busy the box was
    started = time.perf_counter()
    metrics = load_suite(name)(quick=quick)
    elapsed = time.perf_counter() - started
    write_result(out, build_result(name, quick, metrics, machine))
    print_summary(name, metrics, out, elapsed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run a benchmark suite and write its JSON result."
    )
    parser.add_argument("suite", help=f"one of: {', '.join([*SUITES, ALL])}")
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes (CI smoke run)")
    parser.add_argument(
        "--out", type=Path, help="result file (default benchmarks/results/<suite>.json)"
    )
    args = parser.parse_args(argv)
    if args.suite == ALL:
        if args.out is not None:
            parser.error("--out names one file; it cannot be used with 'all'")
        for name in SUITES:
            run_suite(name, quick=args.quick, out=default_out(name))
        return 0
    if args.suite not in SUITES:
        print(
            f"unknown suite {args.suite!r}; available: {', '.join([*SUITES, ALL])}",
            file=sys.stderr,
        )
        return 2
    run_suite(args.suite, quick=args.quick, out=args.out or default_out(args.suite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
