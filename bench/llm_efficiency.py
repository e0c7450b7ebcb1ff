"""LLM calls and tokens, naive vs optimised, on two workloads against the project's test server.

    python bench/llm_efficiency.py                      # claims_llm (10,000 events) and refunds (6,000)
    python bench/llm_efficiency.py --quick              # smaller runs, for a look
    python bench/llm_efficiency.py --json results.json  # the figures as JSON too
    python bench/llm_efficiency.py --endpoint http://127.0.0.1:8080/v1 --events 200   # a real model instead

With --endpoint, every workload runs against that OpenAI-compatible server (for example the real local
model of `dana-wf llm up`) through a counting proxy, instead of the scripted test server; the scripted model
stays the source of known answers (its replies are what the decision checks are written from), a real
model's figures show the mechanisms at work on answers nobody scripted.

Per workload, in one process against the OpenAI-compatible test server (devservices/llm_server) with a
scripted model whose replies depend only on the prompt's content:

1. calibration traffic (other events, another seed) runs in naive mode, whose enforce call judges
   every first answer; ``dana-wf efficiency calibrate`` does the same from the audit log: thresholds
   per step and tier so bypassed answers are wrong at most ``error_bound`` (Wilson bound, 95%);
2. the evaluation events run in naive mode (perceive + operate + enforce calls per event);
3. the same events run in optimised mode with that calibration.

Printed: calls (requests the server received, retries included) and tokens per mode and their ratio;
calls per phase and what each saving mechanism avoided; the events whose decision differs between the
modes, each with its cause; high-risk events bypassed. Targets (issue 15): calls <= 0.4 x naive,
0 high-risk bypassed, decisions identical on every high-risk event and on >= 99% of all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dana_workflows.core.clock import wall_clock_us  # noqa: E402
from dana_workflows.core.settings import LLMEndpoint  # noqa: E402
from dana_workflows.devservices.llm_server.script import load_script  # noqa: E402
from dana_workflows.devservices.llm_server.server import ServerThread  # noqa: E402
from dana_workflows.processors.base import StepContext  # noqa: E402
from dana_workflows.processors.efficiency.calibration import calibrate, save_calibration  # noqa: E402
from dana_workflows.processors.efficiency.monitor import SUMMARY_KEY, totals_of  # noqa: E402
from dana_workflows.processors.efficiency.records import records_from_rows  # noqa: E402
from dana_workflows.processors.efficiency.state import EfficiencyState  # noqa: E402
from dana_workflows.processors.llm import LLMClient  # noqa: E402
from dana_workflows.processors.pipeline import compile_pipeline  # noqa: E402
from dana_workflows.schemas.registry import FileRegistry  # noqa: E402
from dana_workflows.sinks.audit_model import AuditRow  # noqa: E402
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl  # noqa: E402
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows  # noqa: E402
from dana_workflows.streams.topology import Topology  # noqa: E402
from dana_workflows.workflow.ir import WorkflowIR  # noqa: E402
from dana_workflows.workflow.spec import load_spec  # noqa: E402
from dana_workflows.workflow.spec_efficiency import llm_steps_of  # noqa: E402

CLAIMS = ROOT / "docs" / "examples" / "claims"
REFUNDS = ROOT / "docs" / "examples" / "refunds"
WORKLOADS_DIR = ROOT / "bench" / "workloads"


@dataclass
class Workload:
    name: str
    spec: Callable[[Path], Path]  # writes (or names) the spec to run
    script: Path
    events: Callable[[int], list[str]]  # evaluation events, at most n
    calibration: Callable[[int], list[str]]
    decision_fields: tuple[str, ...]
    size: int
    calibration_size: int


def _gen(module_dir: Path, count: int, seed: int) -> list[str]:
    sys.path.insert(0, str(module_dir))
    try:
        import generate  # the example's own generator

        out = generate.generate(count, seed)
    finally:
        sys.path.pop(0)
        sys.modules.pop("generate", None)
    return out[0] if isinstance(out, tuple) else out


def _claims_spec(tmp: Path) -> Path:
    """The claims_llm example with bench/workloads/claims_efficiency.yaml put into its llm step."""
    yaml = YAML(typ="rt")
    doc = yaml.load((CLAIMS / "claims_llm.yaml").read_text(encoding="utf-8"))
    extra = yaml.load((WORKLOADS_DIR / "claims_efficiency.yaml").read_text(encoding="utf-8"))
    step = doc["steps"][2]["triage"]["route"]["review"]["steps"][0]["fraud_risk"]["llm"]
    for key, value in extra.items():
        step[key] = value
    path = tmp / "claims_llm_efficiency.yaml"
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    return path


WORKLOADS = {
    "claims_llm": Workload(
        "claims_llm",
        _claims_spec,
        WORKLOADS_DIR / "claims_script.yaml",
        lambda n: (CLAIMS / "events.jsonl").read_text(encoding="utf-8").splitlines()[:n],
        lambda n: _gen(CLAIMS, n, 8),
        ("risk",),
        10_000,
        5_000,
    ),
    "refunds": Workload(
        "refunds",
        lambda tmp: REFUNDS / "refunds.yaml",
        REFUNDS / "llm_script.yaml",
        lambda n: _gen(REFUNDS, n, 11),
        lambda n: _gen(REFUNDS, n, 12),
        ("decision", "refund_share"),
        6_000,
        3_000,
    ),
}


@dataclass
class ModeRun:
    mode: str
    calls: int  # requests the server received
    rows: list[AuditRow]
    outcomes: dict[str, tuple[str, dict[str, Any]]]  # run_id -> (boundary, payload)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id -> dwf.eff of the llm step
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return sum(int(s["tokens"]["input"]) + int(s["tokens"]["output"]) for s in self.summaries.values())


async def _run(ir: WorkflowIR, lines: list[str], tmp: Path, server: Any, state: EfficiencyState) -> ModeRun:
    pipeline = compile_pipeline(ir)
    topo = Topology(pipeline, FileRegistry(tmp / "schemas"))
    rows: list[AuditRow] = []
    client = LLMClient(LLMEndpoint(base_url=server.base_url), efficiency=state)
    out = tmp / "out"
    runtime = LocalRuntime(
        pipeline,
        topo,
        OutputFiles(out, topo),
        collect_rows(rows),
        StepContext(clock=wall_clock_us, llm=client),
    )
    server.server.log.clear()
    started = time.perf_counter()
    try:
        await runtime.run(lines)
    finally:
        await client.aclose()
    seconds = time.perf_counter() - started
    calls = len(server.server.log)
    outcomes: dict[str, tuple[str, dict[str, Any]]] = {}
    for f in sorted(out.glob(f"dwf.{ir.name}.*.jsonl")):
        boundary = f.name.removeprefix(f"dwf.{ir.name}.").removesuffix(".jsonl")
        if boundary == "drift":
            continue
        for rec in read_jsonl(f):
            outcomes[rec["run_id"]] = (boundary, rec.get("payload") or {})
    summaries: dict[str, dict[str, Any]] = {}
    for r in rows:
        if SUMMARY_KEY in r.details:
            d = json.loads(r.details)
            if SUMMARY_KEY in d and r.kind in ("emitted", "rejected", "error", "routed"):
                summaries[r.run_id] = d[SUMMARY_KEY]
    return ModeRun(state.mode or "", calls, rows, outcomes, summaries, seconds)


def _decision(run: ModeRun, run_id: str, fields: tuple[str, ...]) -> tuple[Any, ...]:
    boundary, payload = run.outcomes.get(run_id, ("<missing>", {}))
    return (boundary, *(payload.get(f) for f in fields))


def _cause(opt: dict[str, Any] | None, naive: dict[str, Any] | None) -> str:
    """Why the optimised decision differs, from both modes' audited summaries."""
    if opt is None or naive is None:
        return "the event did not reach the llm step in one of the modes"
    risk = opt.get("risk") or {}
    if opt.get("settled_by") != naive.get("settled_by") and opt.get("settled_by") not in ("call", "cache"):
        return f"settled by {opt.get('settled_by')} (optimised) vs {naive.get('settled_by')} (naive)"
    if risk and not risk.get("verify"):
        verdict = (
            "the naive enforce call corrected the first answer" if naive.get("first_correct") is False else ""
        )
        return (
            f"verification bypassed: tier {risk.get('tier')}, confidence {risk.get('confidence')} >= "
            f"threshold {risk.get('threshold')} ({risk.get('thresholds')}); {verdict}".rstrip("; ")
        )
    how = f"optimised: {opt.get('settled_by')}, naive: {naive.get('settled_by')}"
    return f"both verified, different answers ({how})"


async def measure(
    w: Workload, spec_path: Path, lines: list[str], calibration_lines: list[str], tmp: Path
) -> dict[str, Any]:
    """Calibrate on ``calibration_lines`` (none: stay uncalibrated), then run ``lines`` in both modes."""
    ir = load_spec(spec_path)
    bypass = llm_steps_of(ir.steps)[0].efficiency.bypass
    server: Any = CountingProxy(ENDPOINT).start() if ENDPOINT else ServerThread(load_script(w.script)).start()
    try:
        cal_dir: Path | None = None
        cal_json: dict[str, Any] = {"steps": {}}
        if calibration_lines:
            # 1. calibration from naive traffic (its enforce call judges every first answer)
            cal_run = await _run(ir, calibration_lines, tmp / "cal", server, EfficiencyState("naive"))
            records = records_from_rows((r.run_id, r.kind, r.details) for r in cal_run.rows)
            cal = calibrate(
                ir.name,
                records,
                bound=bypass.error_bound,
                level=bypass.confidence_level,
                version=1,
                source={"events": len(calibration_lines), "mode": "naive", "workload": w.name},
            )
            cal_dir = tmp / "calibration"
            save_calibration(cal, cal_dir)
            cal_json = cal.to_json()
        # 2. and 3. the same events, both modes
        naive = await _run(ir, lines, tmp / "naive", server, EfficiencyState("naive"))
        opt = await _run(ir, lines, tmp / "opt", server, EfficiencyState("optimised", cal_dir))
    finally:
        server.stop()
    return _report(w, ir.name, lines, naive, opt, cal_json)


class CountingProxy:
    """Forwards every request to an upstream OpenAI-compatible server and counts the chat calls, so a real
    server is measured the way the scripted one is (requests received, retries included). It offers what
    the bench reads of the test server: ``base_url`` and ``server.log``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.log: list[str] = []
        self.server = self
        self._thread = threading.Thread(target=self._serve, name="counting-proxy", daemon=True)
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def forward(request: web.Request) -> web.Response:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
            session = self._session
            path = request.match_info["tail"]
            if path.endswith("chat/completions"):
                self.log.append(path)
            body = await request.read()
            headers = {
                k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")
            }
            async with session.request(
                request.method, f"{self.upstream}/{path}", data=body, headers=headers
            ) as up:
                return web.Response(status=up.status, body=await up.read(), content_type=up.content_type)

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/v1/{tail:.*}", forward)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()


ENDPOINT: str | None = None  # --endpoint: a real server instead of the scripted one


async def run_workload(w: Workload, quick: bool, events: int | None = None) -> dict[str, Any]:
    size = events or (1_200 if quick else w.size)
    calib_size = events or (1_500 if quick else w.calibration_size)
    with tempfile.TemporaryDirectory(prefix=f"dwf-eff-{w.name}-") as tmpdir:
        tmp = Path(tmpdir)
        return await measure(w, w.spec(tmp), w.events(size), w.calibration(calib_size), tmp)


def _report(
    w: Workload, name: str, lines: list[str], naive: ModeRun, opt: ModeRun, cal: dict[str, Any]
) -> dict[str, Any]:
    fields = w.decision_fields
    run_ids = sorted(set(naive.outcomes) | set(opt.outcomes))
    diffs: list[dict[str, Any]] = []
    high: set[str] = set()
    for rid in run_ids:
        for s in (opt.summaries.get(rid), naive.summaries.get(rid)):
            if s and (s.get("risk") or {}).get("tier") == "high":
                high.add(rid)
        a, b = _decision(naive, rid, fields), _decision(opt, rid, fields)
        if a != b:
            diffs.append(
                {
                    "run_id": rid,
                    "naive": list(a),
                    "optimised": list(b),
                    "cause": _cause(opt.summaries.get(rid), naive.summaries.get(rid)),
                }
            )
    opt_totals = totals_of(opt.summaries.values())
    naive_totals = totals_of(naive.summaries.values())
    high_bypassed = sum(
        1
        for s in opt.summaries.values()
        if (s.get("risk") or {}).get("tier") == "high" and not s["risk"]["verify"]
    )
    return {
        "workload": w.name,
        "workflow": name,
        "events": len(lines),
        "llm_step_events": len(opt.summaries),
        "naive": {
            "calls": naive.calls,
            "tokens": naive.tokens,
            "seconds": round(naive.seconds, 1),
            "calls_by_phase": dict(naive_totals.calls),
        },
        "optimised": {
            "calls": opt.calls,
            "tokens": opt.tokens,
            "seconds": round(opt.seconds, 1),
            **opt_totals.to_json(),
        },
        "ratio_calls": round(opt.calls / naive.calls, 4) if naive.calls else None,
        "ratio_tokens": round(opt.tokens / naive.tokens, 4) if naive.tokens else None,
        "decisions_compared": len(run_ids),
        "decisions_identical_share": round(1 - len(diffs) / len(run_ids), 5) if run_ids else None,
        "differences": diffs,
        "high_risk_events": len(high),
        "high_risk_differences": sum(1 for d in diffs if d["run_id"] in high),
        "high_risk_bypassed": high_bypassed,
        "calibration": cal,
    }


def _print(r: dict[str, Any]) -> None:
    n, o = r["naive"], r["optimised"]
    print(f"\n== {r['workload']} ({r['workflow']}): {r['events']} events, {r['llm_step_events']} at the llm")
    print(f"  {'mode':<10} {'calls':>8} {'tokens':>10} {'seconds':>8}")
    print(f"  {'naive':<10} {n['calls']:>8} {n['tokens']:>10} {n['seconds']:>8}")
    print(f"  {'optimised':<10} {o['calls']:>8} {o['tokens']:>10} {o['seconds']:>8}")
    print(
        f"  ratio: calls {r['ratio_calls']} x naive, tokens {r['ratio_tokens']} x naive (target calls <= 0.4)"
    )
    print(f"  naive calls by phase: {n['calls_by_phase']}")
    print(f"  optimised calls by phase: {o['calls_by_phase']}")
    print(f"  avoided by mechanism (naive-equivalent calls): {o['avoided_by_mechanism']}")
    print(f"  settled by: {o['settled_by']}; bypass decisions: {o['bypass_decisions']}")
    print(
        f"  decisions identical: {r['decisions_identical_share']:.2%} of {r['decisions_compared']} "
        f"(target >= 99%); differences: {len(r['differences'])}"
    )
    print(
        f"  high-risk events: {r['high_risk_events']}, bypassed: {r['high_risk_bypassed']} (target 0), "
        f"decisions differing among them: {r['high_risk_differences']} (target 0)"
    )
    causes = Counter(d["cause"] for d in r["differences"])
    for cause, k in causes.most_common():
        print(f"    {k} x {cause}")
    for d in r["differences"]:
        print(f"    - {d['run_id']}: naive {d['naive']} vs optimised {d['optimised']}")
    steps = r["calibration"]["steps"]
    for step, tiers in steps.items():
        for tier, t in tiers.items():
            print(
                f"  calibration {step}/{tier}: threshold {t['threshold']}, "
                f"{t['bypassed']}/{t['records']} records at or above it, {t['errors']} wrong, "
                f"upper bound {t['upper']}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,200 events a workload")
    ap.add_argument("--only", choices=sorted(WORKLOADS), help="one workload")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--endpoint", help="an OpenAI-compatible server to measure instead of the scripted one")
    ap.add_argument("--events", type=int, help="events a workload (and for calibration)")
    args = ap.parse_args()
    global ENDPOINT
    ENDPOINT = args.endpoint
    results = []
    for name, w in WORKLOADS.items():
        if args.only and name != args.only:
            continue
        r = asyncio.run(run_workload(w, args.quick, args.events))
        _print(r)
        results.append(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
