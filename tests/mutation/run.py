"""Mutation testing of the library with mutmut, on a copy of the tree: ``python tests/mutation/run.py``.

Why a copy: mutmut derives a mutant's module name from its file path and the tests import
``dana_workflows.<room>``, whose rooms are symlinks to the top-level folders (docs/architecture.md).
mutmut does not follow them, so the copy materialises ``dana_workflows/`` as real folders; it also keeps
mutmut's ``mutants/`` tree out of the shared checkout. ``process_isolation = "forkserver"``: the default
fork-per-mutant runner forks a process that already loaded chdb, whose threads do not survive a fork, and
every chdb test then hangs into a false "timeout" kill; the fork server forks before any test runs.

mutmut 3.8 requires click >= 8.4.2 and faust-streaming click < 8.4, so it cannot sit in the ``dev`` extra
(pip finds no solution); ``--install`` adds it without its click pin (it runs on click 8.3).

Groups and their scores (docs/testing.md): the four targets of issue 22 and ``overall`` (every library
module). A group larger than ``--sample`` mutants is sampled with a fixed seed, so two runs of the same
tree test the same mutants. Score = killed / (killed + survived - equivalent), where survived includes
mutants that no test reaches; equivalent mutants (no behaviour can tell them apart) are listed with the
reason in tests/mutation/equivalent.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MUTMUT = "mutmut==3.8.1"
MUTMUT_DEPS = ("libcst>=1.9", "textual>=1", "setproctitle>=1.3.7", "coverage>=7.3")

# The library's rooms (docs/architecture.md); tests/unit mirrors them.
ROOMS = (
    "core",
    "schemas",
    "workflow",
    "sinks",
    "analysis",
    "knowledge",
    "processors",
    "drift",
    "objectives",
    "streams",
    "devservices",
    "cli",
)

# processors/: the step kinds and the pipeline around them, and the parts of llm/ that unit tests reach
# without the LLM test server (the client, the processor, POET and efficiency/ are exercised through it)
STEP_KIND_MODULES = (
    *("audit_trail", "base", "boundary", "enforce", "executor", "ingest", "pipeline"),
    *("route", "rules", "transform", "validate"),
)
# The e2e tests that run `dana-wf` in this process (typer's CliRunner) and need no server: real tests of the
# CLI, the local runtime and the audit store that mutmut can map to the functions they reach. The e2e tests
# that start `dana-wf` or a worker as a process are left out: mutmut's map of tests to functions only sees
# this process, so they would never be run against a mutant. docs/testing.md, "Mutation testing".
E2E_IN_PROCESS = (
    "tests/e2e/test_claims_example.py",
    "tests/e2e/test_cli_conventions.py",
    "tests/e2e/test_objectives_cli.py",
    "tests/e2e/test_objectives_lending.py",
    "tests/e2e/test_objectives_llm.py",
    "tests/e2e/test_objectives_llm_outputs.py",
    "tests/e2e/test_rerun_same_store.py",
)
# Of those, the three that take 10-18 s each (10,000 events run twice, or run then tampered, or run for a
# drift baseline): a surviving mutant reached by them would pay 44 s more; the same behaviour (byte-identical
# reruns, tamper detection, drift reports) has unit tests. Measured: the seven files take 66 s, these 44 s.
E2E_TOO_SLOW = (
    "tests/e2e/test_claims_example.py::test_two_runs_are_byte_identical_and_audit_the_same",
    "tests/e2e/test_claims_example.py::test_audit_sql_verify_and_tamper_detection",
    "tests/e2e/test_claims_example.py::test_drift_baseline_and_report_commands",
)
# group -> (the files it mutates, the unit tests that run against its mutants). The tests are those that
# target the group's modules: mutmut runs each mutant against the selected tests that reach its function,
# and a wide selection makes the one-off run that maps tests to functions take most of an hour on 2 cores.
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sinks (audit, verify)": (
        (
            "dana_workflows/sinks/audit_model.py",
            "dana_workflows/sinks/verify.py",
            "dana_workflows/sinks/sql_verify.py",
        ),
        # the room's whole unit-test folder: a list of files missed tests written later for these modules
        # (test_verify_continued.py, the presence query's), which then counted as "reached by no test"
        ("tests/unit/sinks",),
    ),
    "CEL fast path": (
        ("dana_workflows/workflow/cel_native.py",),
        ("tests/unit/workflow/test_cel_native.py", "tests/unit/workflow/test_cel_native_boundaries.py"),
    ),
    "processors": (
        (
            *(f"dana_workflows/processors/{name}.py" for name in STEP_KIND_MODULES),
            "dana_workflows/processors/llm/limits.py",
            "dana_workflows/processors/llm/retry.py",
            "dana_workflows/processors/llm/output.py",
            "dana_workflows/processors/llm/cache.py",
            "dana_workflows/processors/llm/prompt.py",
        ),
        ("tests/unit/processors",),  # the room's folder, as for sinks
    ),
    "kafka commit bookkeeping": (
        ("dana_workflows/streams/kafka/commit.py", "dana_workflows/streams/kafka/frontier.py"),
        (
            "tests/unit/streams/test_frontier.py",
            "tests/unit/streams/test_frontier_scan_edges.py",
            "tests/unit/streams/test_commit_bookkeeping.py",
        ),
    ),
    "overall": (("dana_workflows/*.py",), (*(f"tests/unit/{room}" for room in ROOMS), *E2E_IN_PROCESS)),
}
# Unit tests that need a tool this copy has not got, or that test the tree itself (the wheel, the layers).
DESELECT = ("tests/unit/test_architecture.py", "tests/unit/deploy")
KILLED_CODES = {1, 3, 36, 24, -24, 152, 255}  # mutmut: test failure, pytest internal error, timeouts
NO_TESTS_CODES = {5, 33}
TIMEOUT_MULTIPLIER = 3.0
PROGRESS_EVERY_S = 30.0  # how often a running sample's partial summary is written


def install() -> None:
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *MUTMUT_DEPS], check=True)
    subprocess.run([*pip, "--no-deps", MUTMUT], check=True)


def copy_tree(workdir: Path, ref: str | None = "HEAD") -> None:
    """The tree at git `ref` (None: the working tree, uncommitted edits included) with dana_workflows/
    as real folders. A commit is the default: the shared working tree holds other engineers' edits in
    flight, and the unit tests must all pass on the copy before mutmut runs a mutant."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
    if ref is None:
        shutil.copytree(ROOT / "dana_workflows", workdir / "dana_workflows", symlinks=False, ignore=skip)
        for name in ("tests", "docs", "bench"):
            shutil.copytree(ROOT / name, workdir / name, symlinks=True, ignore=skip)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, workdir / name)
        return
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive.stdout, check=True)
    for link in (workdir / "dana_workflows").iterdir():
        if link.is_symlink():
            target = link.resolve()
            link.unlink()
            shutil.copytree(target, link, symlinks=False)
    built_extensions = [*(ROOT / "schemas").glob("_avrofast*.so"), *(ROOT / "schemas").glob("_sha256ni*.so")]
    for built in built_extensions:  # the C accelerators (codec, SHA-256), built by pip install -e .
        shutil.copy2(built, workdir / "dana_workflows" / "schemas" / built.name)


def uncollectable(workdir: Path, tests: list[str]) -> list[str]:
    """Test files that do not even import on this tree (another room's edit in flight): left out, and
    named, rather than stopping the whole run."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *tests]
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    out = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True).stdout
    broken = sorted(set(re.findall(r"^ERROR (tests/\S+\.py)", out, flags=re.M)))
    for path in broken:
        print(f"left out (does not import on this tree): {path}")
    return broken


def write_config(workdir: Path, groups: list[str], deselected: list[str] | None = None) -> None:
    patterns = sorted({p for g in groups for p in GROUPS[g][0]})
    tests = sorted({t for g in groups for t in GROUPS[g][1] if (workdir / t).exists()})
    ignored = [*DESELECT, *uncollectable(workdir, tests)]
    deselect = [arg for path in ignored for arg in ("--ignore", path)]
    deselect += [arg for node in deselected or () for arg in ("--deselect", node)]
    deselect += [
        arg
        for node in E2E_TOO_SLOW
        for arg in ("--deselect", node)
        if (workdir / node.split("::")[0]).exists()
    ]
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["dana_workflows"]',
        f"only_mutate = {json.dumps(patterns)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        f"pytest_add_cli_args = {json.dumps(['-p', 'no:cacheprovider', '-p', 'no:randomly', *deselect])}",
        'also_copy = ["docs", "bench", "README.md"]',
        'process_isolation = "forkserver"',
        # A mutant's CPU limit is (its tests' measured time + 1 s) x multiplier x 2. mutmut's default 15 gave
        # a mutant whose tests take a minute half an hour before the timeout (which counts as killed): seven
        # such mutants held both workers for the last 20 minutes of the first overall run. 3 leaves 6x the
        # clean run's time, far above any real slowdown a mutant causes short of a loop.
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}",
    ]
    with (workdir / "pyproject.toml").open("a") as f:
        f.write("\n".join(lines) + "\n")


def mutmut(
    workdir: Path,
    args: list[str],
    jobs: int,
    log: Path,
    check: bool = True,
    progress: Callable[[], None] | None = None,
) -> int:
    """Run mutmut in its own session (so a stop takes its workers too), calling ``progress`` every
    PROGRESS_EVERY_S while it runs."""
    cmd = [sys.executable, "-m", "mutmut", *args]
    if args[0] == "run":
        cmd[4:4] = ["--max-children", str(jobs)]
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(
            cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while True:
                try:
                    code = proc.wait(timeout=PROGRESS_EVERY_S)
                    break
                except subprocess.TimeoutExpired:
                    if progress is not None:
                        progress()
        finally:
            if proc.poll() is None:  # stopped from outside (timeout, Ctrl-C): take mutmut's workers too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    if check and code != 0:
        raise SystemExit(f"mutmut {args[0]} failed ({code}); see {log}")
    return code


def read_results(workdir: Path) -> dict[str, tuple[str, int | None]]:
    """mutant name -> (source file relative to the copy, mutmut's exit code or None if not run)."""
    out: dict[str, tuple[str, int | None]] = {}
    for meta in (workdir / "mutants" / "dana_workflows").rglob("*.py.meta"):
        source = str(meta.relative_to(workdir / "mutants"))[: -len(".meta")]
        try:
            codes = json.loads(meta.read_text())["exit_code_by_key"]
        except ValueError:  # mutmut is writing it right now (a partial read while it runs): next time
            continue
        for name, code in codes.items():
            out[name] = (source, code)
    return out


def in_group(source: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(source, p) for p in patterns)


def equivalents() -> dict[str, str]:
    """tests/mutation/equivalent.txt: ``<mutant name>  <why no behaviour tells it apart>`` per line."""
    listed: dict[str, str] = {}
    for line in (HERE / "equivalent.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition(" ")
            listed[name] = why.strip()
    return listed


@dataclass
class Score:
    mutants: int = 0
    tested: int = 0
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        counted = self.killed + len(self.survived) + len(self.no_tests)
        return self.killed / counted if counted else 1.0


def score(results: dict[str, tuple[str, int | None]], patterns: Iterable[str], sample: set[str]) -> Score:
    patterns = tuple(patterns)
    listed = equivalents()
    s = Score()
    for name, (source, code) in sorted(results.items()):
        if not in_group(source, patterns):
            continue
        s.mutants += 1
        if name not in sample or code is None:
            continue
        s.tested += 1
        if code in KILLED_CODES:
            s.killed += 1
        elif name in listed:
            s.equivalent.append(name)
        elif code in NO_TESTS_CODES:
            s.no_tests.append(name)
        else:
            s.survived.append(name)
    return s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", nargs="*", default=list(GROUPS), help=f"of: {', '.join(GROUPS)}")
    parser.add_argument("--sample", type=int, default=300, help="mutants per group at most (0: all)")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dwf-mutation"))
    parser.add_argument("--reuse", action="store_true", help="keep the copy and the results of a run")
    parser.add_argument("--ref", default="HEAD", help="the git commit to test (default HEAD)")
    parser.add_argument("--worktree", action="store_true", help="test the working tree instead of --ref")
    parser.add_argument("--install", action="store_true", help=f"pip install {MUTMUT} first")
    parser.add_argument("--out", type=Path, default=None, help="the JSON summary (default: workdir)")
    parser.add_argument(
        "--deselect",
        action="append",
        default=[],
        metavar="NODE_ID",
        help="leave out a test that fails on the measured commit (say so next to the figure)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="GLOB",
        help="mutate only these files (e.g. dana_workflows/streams/kafka/worker.py): a 'custom' group, "
        "for finding one module's survivors while writing its tests",
    )
    parser.add_argument(
        "--tests",
        nargs="+",
        default=None,
        metavar="PATH",
        help="with --only: the tests that run against its mutants (default: the overall group's)",
    )
    args = parser.parse_args()
    if args.only:  # one home for a group: the custom selection is a group like the four
        GROUPS["custom"] = (tuple(args.only), tuple(args.tests or GROUPS["overall"][1]))
        args.groups = ["custom"]
    elif args.tests:
        raise SystemExit("--tests goes with --only (the files to mutate)")
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown group(s) {sorted(unknown)}; choose from {list(GROUPS)}")
    if args.install:
        install()
    workdir: Path = args.workdir.resolve()
    log = workdir.parent / f"{workdir.name}.log"

    def stopped(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through mutmut()'s cleanup (and the summary, once running)

    signal.signal(signal.SIGTERM, stopped)  # `timeout` stops the run: its mutmut session goes with it
    started = time.monotonic()
    if not (args.reuse and (workdir / "mutants").is_dir()):
        log.unlink(missing_ok=True)
        copy_tree(workdir, None if args.worktree else args.ref)
        write_config(workdir, args.groups, args.deselect)
        # generates every mutant and runs the selected tests once; a pattern that matches no mutant stops it
        # there (mutmut asserts), before any mutant runs
        mutmut(workdir, ["run", "no-such-mutant"], args.jobs, log, check=False)
        if "failed to collect stats" in log.read_text(errors="replace"):
            # a selected test fails on this tree (mutmut runs them with -x and shows no output): stop here
            # rather than fail again after the sample's clean run; find it, fix it or leave it out
            raise SystemExit(
                f"a selected test fails on this tree, so mutmut cannot map tests to functions; find it with "
                f"`cd {workdir}/mutants && MUTANT_UNDER_TEST=stats python -m pytest -x -q -p no:randomly "
                f"--rootdir=. <the tests of the group>`, then fix it or run again with --deselect NODE_ID"
            )
    results = read_results(workdir)
    if not results:
        raise SystemExit(f"mutmut generated no mutants; see {log}")
    rng = random.Random(args.seed)
    sample: set[str] = set()
    for group in args.groups:
        names = sorted(n for n, (src, _) in results.items() if in_group(src, GROUPS[group][0]))
        picked = names if not args.sample or len(names) <= args.sample else rng.sample(names, args.sample)
        sample.update(picked)
    todo = sorted(n for n in sample if results[n][1] is None)
    prepared = time.monotonic()
    out = args.out or workdir.parent / f"{workdir.name}.json"

    def report(final: bool) -> None:
        write_summary(args, workdir, out, sample, todo, started, prepared, final)

    print(f"{len(todo)} mutants to run; partial summary every {PROGRESS_EVERY_S:.0f} s in {out}", flush=True)
    finished = False
    try:
        for i in range(0, len(todo), 500):  # the names go on the command line
            mutmut(workdir, ["run", *todo[i : i + 500]], args.jobs, log, progress=lambda: report(False))
        finished = True
    finally:
        report(finished)


def write_summary(
    args: argparse.Namespace,
    workdir: Path,
    out: Path,
    sample: set[str],
    todo: list[str],
    started: float,
    prepared: float,
    final: bool,
) -> None:
    """The JSON summary, also while mutmut runs (``partial``: the mutants not finished yet are left out
    of every count and listed in ``unfinished``)."""
    now = time.monotonic()
    results = read_results(workdir)
    unfinished = sorted(n for n in todo if results.get(n, ("", None))[1] is None)
    ran = len(todo) - len(unfinished)
    summary: dict[str, Any] = {
        "partial": not final,
        "sample": args.sample,
        "seed": args.seed,
        "jobs": args.jobs,
        "prepare_s": round(prepared - started, 1),
        "run_s": round(now - prepared, 1),
        "ran": ran,
        "unfinished": unfinished,
        "groups": {},
    }
    lines = []
    for group in args.groups:
        s = score(results, GROUPS[group][0], sample)
        summary["groups"][group] = {
            "mutants": s.mutants,
            "tested": s.tested,
            "killed": s.killed,
            "survived": s.survived,
            "no_tests": s.no_tests,
            "equivalent": s.equivalent,
            "score": round(s.score, 3),
        }
        lines.append(
            f"{group:28} {s.mutants:6} mutants, {s.tested:4} tested: {s.killed} killed, "
            f"{len(s.survived)} survived, {len(s.no_tests)} reached by no test, "
            f"{len(s.equivalent)} equivalent -> score {s.score:.1%}"
        )
    out.write_text(json.dumps(summary, indent=2) + "\n")
    if not final:
        print(
            f"[{now - started:.0f} s] {ran}/{len(todo)} finished; "
            + "; ".join(x.split(":", 1)[1].strip() for x in lines),
            flush=True,
        )
        return
    print("\n".join(lines))
    if unfinished:
        print(f"stopped before {len(unfinished)} of {len(todo)} mutants finished: the counts leave them out")
    per_mutant = (now - prepared) / ran if ran else 0.0
    total = sum(1 for n, (src, _) in results.items() if in_group(src, GROUPS["overall"][0]))
    print(f"{ran} mutants in {now - prepared:.0f} s ({per_mutant:.2f} s each on {args.jobs} jobs)")
    if per_mutant:
        print(
            f"a full run of the {total} mutants generated would take about {total * per_mutant / 3600:.1f} h"
        )
    print(f"summary: {out}; survivors: cd {workdir} && python -m mutmut show <name>", flush=True)


if __name__ == "__main__":
    main()
