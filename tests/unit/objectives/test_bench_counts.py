"""A count-based check of bench/objective_inference.py on the shipped suite (no figures asserted)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.objectives.settings import InferenceSettings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import objective_inference as bench  # noqa: E402


def test_suite_size_and_one_scored_dataset() -> None:
    suite = bench.load_suite()
    assert len(suite) >= 30 and len({d.domain for d in suite}) >= 6
    ds = bench.build(next(d for d in suite if d.name == "card_payments"))
    assert len(ds.sample) == bench.suite.SIZES["sample"] and len(
        ds.injected
    ) == bench.suite.ERRORS_PER_KIND * len(ds.errors)
    fields = bench.fields_of(ds)
    gold = bench.score(ds.gold, ds, fields)  # gold scored against itself: every rule matches
    assert (gold.matched, gold.gold, gold.caught, gold.false_alarms) == (
        len(ds.gold),
        len(ds.gold),
        len(ds.injected),
        0,
    )
    rules = bench.infer_rules(ds, fields, InferenceSettings())
    s = bench.score(rules, ds, fields)
    assert s.inferred == len(rules) and s.errors == len(ds.injected) and s.clean == bench.suite.SIZES["clean"]
    assert 0 <= s.matched <= min(s.inferred, s.gold)


def test_a_later_batch_loads_builds_and_is_reported_apart() -> None:
    # batch 4 (seen now): a batch in domains of its own; the blind batch 5 is not built here
    blind = bench.selected([4])
    assert len(blind) >= 8 and len({d.domain for d in blind}) >= 3
    assert {d.domain for d in blind}.isdisjoint({d.domain for d in bench.selected([1, 2, 3])})
    batches = {d.batch for d in bench.load_suite()}
    assert len(bench.selected()) == len(bench.load_suite()) == sum(len(bench.selected([b])) for b in batches)
    ds = bench.build(blind[0])
    assert len(ds.holdout) == bench.suite.SIZES["holdout"] and len(ds.clean) == bench.suite.SIZES["clean"]
    assert len(ds.injected) == bench.suite.ERRORS_PER_KIND * len(ds.errors)
    assert bench.suite.check(ds) == []  # gold holds on its clean events; every injected error breaks one
    fields = bench.fields_of(ds)
    gold = bench.score(ds.gold, ds, fields)
    assert (gold.matched, gold.caught, gold.false_alarms) == (len(ds.gold), len(ds.injected), 0)


def test_figures_are_grouped_by_batch_and_summed() -> None:
    one, two, three = bench.Score(inferred=4, gold=3, matched=2), bench.Score(inferred=1), bench.Score(gold=5)
    four, five = bench.Score(gold=7, matched=1), bench.Score(inferred=2, gold=11, matched=2)
    six = bench.Score(inferred=3, gold=4, matched=1)
    groups = dict(bench.grouped({1: one, 2: two, 3: three, 4: four, 5: five, 6: six}))
    assert (groups["first 36 (fitted-to)"].inferred, groups["first 36 (fitted-to)"].gold) == (5, 3)
    assert groups["batch 3 (seen, fitted-to)"].gold == 5
    # batch 4 was developed on in the third round: seen, reported apart from the later batches
    assert (groups["batch 4 (seen, fitted-to)"].gold, groups["batch 4 (seen, fitted-to)"].matched) == (7, 1)
    # batch 5 was developed on in the fourth round: seen, reported apart from the blind batch 6
    assert (groups["batch 5 (seen, fitted-to)"].inferred, groups["batch 5 (seen, fitted-to)"].gold) == (2, 11)
    assert (groups["batch 6 (seen, fitted-to)"].inferred, groups["batch 6 (seen, fitted-to)"].gold) == (3, 4)
    assert (groups["all"].inferred, groups["all"].gold, groups["all"].matched) == (10, 30, 6)
    assert [name for name, _ in bench.grouped({6: six})] == ["batch 6 (seen, fitted-to)", "all"]
    # batches 8-10 were read by the seventh and eighth rounds, each reported apart
    eight, nine = bench.Score(inferred=1, gold=2), bench.Score(inferred=5, gold=6, matched=4)
    named = dict(bench.grouped({8: eight, 9: nine}))
    assert list(named) == ["batch 8 (seen, fitted-to)", "batch 9 (seen, fitted-to)", "all"]
    assert (named["batch 9 (seen, fitted-to)"].matched, named["all"].gold) == (4, 8)
    # a batch committed after GROUPS was written (a blind batch 23) gets a line of its own, not only "all";
    # batches 11-22, read by the later rounds and measured once blind each, are reported as seen
    ten, eleven = bench.Score(gold=3, matched=1), bench.Score(inferred=2, gold=9, matched=2)
    twelve = bench.Score(inferred=1, gold=4, matched=1)
    thirteen = bench.Score(inferred=2, gold=3, matched=2)
    fourteen = bench.Score(inferred=1, gold=1, matched=1)
    fifteen = bench.Score(inferred=3, gold=5, matched=2)
    sixteen = bench.Score(inferred=2, gold=2, matched=1)
    seventeen = bench.Score(inferred=4, gold=6, matched=3)
    eighteen = bench.Score(inferred=1, gold=3, matched=1)
    nineteen = bench.Score(inferred=2, gold=7, matched=2)
    twenty = bench.Score(inferred=1, gold=5, matched=1)
    twenty_one = bench.Score(inferred=3, gold=4, matched=2)
    twenty_two = bench.Score(inferred=2, gold=6, matched=1)
    twenty_three = bench.Score(inferred=1, gold=8, matched=1)
    later = dict(
        bench.grouped(
            {
                10: ten,
                11: eleven,
                12: twelve,
                13: thirteen,
                14: fourteen,
                15: fifteen,
                16: sixteen,
                17: seventeen,
                18: eighteen,
                19: nineteen,
                20: twenty,
                21: twenty_one,
                22: twenty_two,
                23: twenty_three,
            }
        )
    )
    assert list(later) == [
        "batch 10 (seen, fitted-to)",
        "batch 11 (seen, fitted-to)",
        "batch 12 (seen, fitted-to)",
        "batch 13 (seen, fitted-to)",
        "batch 14 (seen, fitted-to)",
        "batch 15 (seen, fitted-to)",
        "batch 16 (seen, fitted-to)",
        "batch 17 (seen, fitted-to)",
        "batch 18 (seen, fitted-to)",
        "batch 19 (seen, fitted-to)",
        "batch 20 (seen, fitted-to)",
        "batch 21 (seen, fitted-to)",
        "batch 22 (seen, fitted-to)",
        "batch 23 (not in GROUPS)",
        "all",
    ]
    assert (later["batch 12 (seen, fitted-to)"].gold, later["batch 15 (seen, fitted-to)"].gold) == (4, 5)
    assert (later["batch 16 (seen, fitted-to)"].gold, later["batch 17 (seen, fitted-to)"].gold) == (2, 6)
    assert (later["batch 18 (seen, fitted-to)"].gold, later["batch 19 (seen, fitted-to)"].gold) == (3, 7)
    assert (later["batch 20 (seen, fitted-to)"].gold, later["batch 21 (seen, fitted-to)"].gold) == (5, 4)
    assert (later["batch 22 (seen, fitted-to)"].gold, later["batch 23 (not in GROUPS)"].gold) == (6, 8)
    assert (later["batch 13 (seen, fitted-to)"].matched, later["batch 14 (seen, fitted-to)"].gold) == (2, 1)
    assert later["all"].matched == 21
    assert [name for name, _ in bench.grouped({5: five})] == ["batch 5 (seen, fitted-to)", "all"]
    assert [name for name, _ in bench.grouped({4: four})] == ["batch 4 (seen, fitted-to)", "all"]


def test_autotest_scoring_on_a_toy_benchmark(tmp_path: Path) -> None:
    import autotest_columns as at

    rows = [
        ("ids", ["x"], [], [f"ab{i:04d}" for i in range(40)] + ["x"]),  # a labelled error our shapes catch
        ("nums", ["n/a"], [], [str(i) for i in range(50)] + ["n/a"]),  # a non-number among numbers
        ("names", [], ["dbt"], ["ann", "bob", "dbt"]),  # only debatable errors: left out
        ("clean", [], [], [f"cd{i:04d}" for i in range(40)] + ["c-1"]),  # a wrong prediction: a negative
    ]
    path = tmp_path / "bench.csv"
    lines = ["index,header,ground_truth,ground_truth_debatable,dist_val_count,dist_val"]
    for i, (h, gt, deb, vals) in enumerate(rows):
        lines.append(f'{i},{h},"{gt!r}","{deb!r}",{len(vals)},"{vals!r}"')
    path.write_text("\n".join(lines) + "\n")
    cols = at.load_bench(path)
    # the declared split: the benchmark's own index, even for dev, odd for test
    assert [c.header for c in at.load_bench(path, "dev")] == ["ids", "names"]
    assert [c.header for c in at.load_bench(path, "test")] == ["nums", "clean"]
    labels, preds = at.scores(cols, InferenceSettings())
    assert labels == [1, 1, 0, 0]  # ids, nums, clean, and the wrong prediction's extra negative
    assert preds[0] > 0 and preds[1] > 0 and preds[2] == 0.0 and preds[3] > 0
    assert at.recall_at_precision([1, 1, 0], [0.9, 0.5, 0.7]) == 0.5  # at 0.5 precision is 2/3 < 0.8
    assert at.recall_at_precision([1, 1, 0], [0.9, 0.5, 0.7], floor=0.6) == 1.0


MODEL_RULES = "\n".join(
    [
        "last4_len | size(card_last4) == 4 | a card's last four digits",
        "ghost | premium > 0.0 | a field the dataset does not have",
    ]
)


@pytest.fixture
def llm_server_script() -> Any:
    from dana_workflows.devservices.llm_server.script import Script

    rules = [
        {
            "name": "cards",
            "match": {"contains": ["- card_last4: string"], "where": "last_user"},  # after the example
            "reply": {"rules": MODEL_RULES},
        },
        {"name": "nothing", "reply": {"rules": ""}},
    ]
    return Script.model_validate({"models": ["dwf-test-model"], "rules": rules})


def test_llm_mode_adds_only_the_models_rules_that_pass_the_gates(
    llm_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", llm_server.base_url)
    monkeypatch.setenv("DWF_LLM_CACHE_PATH", str(tmp_path / "cache"))
    ds = bench.build(next(d for d in bench.load_suite() if d.name == "card_payments"))
    fields = bench.fields_of(ds)
    alone = bench.infer_rules(ds, fields, InferenceSettings())
    with_model = bench.with_model("dwf-test-model")(ds, fields, InferenceSettings())
    assert llm_server.count() == 1  # one call for the dataset's input
    assert set(with_model) - set(alone) == {"size(card_last4) == 4"}  # the ghost field never passes


def test_autotest_detector_reads_words_as_words() -> None:
    import autotest_columns as at

    s = InferenceSettings()
    ships = ["balmoral", "freedom of the seas", "adonia", "aurora", "oriana", "arcadia", "azura", "0"]
    assert at.detect(ships, s) == ("0", at._score(1, len(ships)))  # a bare number among names
    names = ["erin", "elijah", "brandy", "robert", "michele", "carl matthew", "jonathan", "gavin"]
    assert at.detect(names, s) is None  # a two-word name among one-word names is still a name
    states = ["fl", "nc", "id", "va", "ca", "az", "ny", "tx", "wa", "or", "germany"]
    assert at.detect(states, s) == ("germany", at._score(1, len(states)))  # a code of one fixed length
