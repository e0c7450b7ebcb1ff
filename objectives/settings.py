"""The knobs of inference, in one place: each is a setting, not a hidden cliff."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InferenceSettings:
    # Fewer clean events than this and nothing is inferred: quantiles and domains of 20 events are noise.
    min_sample: int = 30
    # A profile needs this many non-null values of a field before it proposes anything about it.
    min_values: int = 20
    # Numeric ranges: the [q_low, q_high] quantiles, widened by `range_tolerance` of their span on each
    # side (robust to a stray outlier in the sample, unlike bare min/max).
    q_low: float = 0.005
    q_high: float = 0.995
    range_tolerance: float = 0.25
    # A positive quantity is read on the log scale (its floor the sign) only when its outer quantiles
    # are at least this factor apart: within a narrower ratio it sits around a level, far from zero
    # (objectives/profilers/ranges.py spreads_by_factors).
    factor_spread: float = 2.0
    # An edge of the sample is a cut (the bound is the edge, no tolerance past it) when the extreme
    # value is seen at least this many times, and at least this share of the mean number of times a
    # distinct value is seen: a tail thins out towards its extreme, a cut does not
    # (objectives/profilers/ranges.py cut_edges). A pack's closed range prior replaces a cut inside
    # it (objectives/priors.py): the sample stopped there, the field does not.
    edge_min_repeats: int = 3
    edge_repeat_share: float = 0.5
    # Categorical domains: at most this many distinct values, each seen at least `min_category_count`
    # times or together making up at most `rare_share` of the values (rare values are tolerated).
    max_categories: int = 25
    # A double is a domain only as a short menu (deductibles, tiers); more values are a measurement.
    max_menu_values: int = 10
    min_category_count: int = 2
    rare_share: float = 0.01
    # Each distinct value must be seen this many times on average before a domain is believed.
    min_mean_repeats: float = 4.0
    # String patterns: the share of values the dominant shape must cover.
    pattern_share: float = 1.0
    # Cross-field relations: compared pairs must share the type family and hold on every sample event.
    relation_min_support: float = 1.0
    sum_tolerance: float = 0.011  # absolute: cents survive rounding
    # A relation the names do not vouch for (two dates, two amounts) is offered only when the chance
    # that unrelated fields would show it on every sample event is at most this.
    relation_chance: float = 0.01
    # An order a <= b between two non-negative numbers is offered only when a reaches at least this
    # share of b on some sample event: a part that never comes within a factor of two of its whole
    # (VAT and the amount, a fee and the valuation) is ordered by its share, which the sample did test,
    # not by a bound it came near. The tenth round (docs/objectives.md) counted 4 of 35 such orders
    # matching an expert's rule on batches 6-12, against 1,733 of 2,336 for the rest of the offered set.
    order_min_share: float = 0.5
    # Implications that conclude only values (a category's value, a flag, a zero; and the flag
    # equivalences `(a <= b) == (!flag)`) are offered only when this is on. Off: an implication is
    # offered when it concludes some field's presence (a field required in a case). Values that go
    # together in a sample are mostly its categories' habits, tested over every pair of fields; the
    # ninth round (docs/objectives.md) counted 29 of 160 such offers matching an expert's rule on
    # batches 6-11, against 22 of 64 for the ones that conclude a presence. One kind is offered with this
    # off: a flag's truth as the premise (`!dg_on_board || notoc_issued`); the eighteenth round counted
    # 5 of 7 matching on batches 19-20 and 6 of 14 on 6-18, where a category's premise held on neither.
    value_implications: bool = False
    # Refinement: the false-alarm budget of the offered set on held-out clean events.
    max_false_alarm_rate: float = 0.01
    # Proposals under this confidence are not offered. It is support_factor(min_values) = 20 / (20 + 30):
    # a rule on as few values as min_values allows is not refused a second time for its support alone.
    # At 0.5 the floor was 30 values for every support-weighted rule, and an optional field set on 20-29
    # of 300 events (a reason code, a follow-up's id) got no rule on its values; the tenth round
    # (docs/objectives.md) counted 8 such rules on batches 6-12 matching an expert's rule, of 14.
    min_confidence: float = 0.4
    # `--llm` (objectives/llm_proposals.py): one call per target (the input, each step with fields), never
    # retried: a model that did not answer in time would not the second time either, and four attempts at
    # the endpoint's 30 s made the shared SmolLM2-135M wait 2 min 5 s for nothing. The seconds one call
    # may take (`--llm-timeout`; it replaces the endpoint's timeout_s for these calls); the tokens of its
    # answer (`--llm-max-tokens`; None: by the model asked, answer_tokens below; a call cut by the timeout
    # gives nothing, one cut at max_tokens its whole lines); the estimated tokens of the prompt (system,
    # worked example and fields), which fit a small model's context (the local SmolLM2 serves 2,048 a
    # slot): example values go first, then the fields that do not fit.
    llm_timeout_s: float = 90.0
    llm_max_tokens: int | None = None
    llm_prompt_tokens: int = 1200
    llm_examples: int = 3  # distinct values shown per field

    def answer_tokens(self, model: str) -> int:
        """The tokens of `model`'s answer (the name its endpoint is asked for, an alias resolved):
        `llm_max_tokens` when given, else the model's own budget (RUNS_ON_MODELS), else room for a whole
        answer. The one home of the rule: `objectives infer` and Python callers of propose_all use it."""
        if self.llm_max_tokens is not None:
            return self.llm_max_tokens
        return RUNS_ON_MODELS.get(model, WHOLE_ANSWER_TOKENS)


# A capable model's whole answer: six rules took ~115 tokens (session 18); 80 cut them.
WHOLE_ANSWER_TOKENS = 400
# Models that copy the worked example's form for one line and then run on to any limit they are given,
# with the budget that keeps a call within the timeout: the bundled SmolLM2-135M of `dana-wf llm up`
# (devservices/llama/model.py MODEL_ID, above this room; a test holds the two names equal). With 400 it
# ran to the 90 s timeout and offered nothing; with 120, 2 of 3 runs did; 80 offers its one good rule
# (docs/objectives.md). More tokens do not help such a model: a capable one does (llm_proposals' notes).
RUNS_ON_MODELS: dict[str, int] = {"SmolLM2-135M-Instruct": 80}
