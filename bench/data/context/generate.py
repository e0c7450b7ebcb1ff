# ruff: noqa: E501  (text templates read best on one line)
"""Make the labelled context-assembly suite (bench/context_assembly.py): three domains, their chunk
pools, and step instances with the gold ids of the facts each step needs.

Gold comes from the domain's semantics, fixed here when an instance is drawn and before any method
runs: a claim needs its own policy's terms, the section of its policy that rules on its peril (the
covered-perils section, or the exclusions when the peril is excluded) and the handling guideline for
that peril; an alert needs its service's catalog entry and the runbook section for its symptom on that
service; a return needs the product's catalog row, its category's rule for the return reason, and the
customer's country rule. Distractors are the same facts for other policies, services, products,
perils and countries, written from the same templates, plus filler (regulations, postmortems, FAQ).

Deterministic (seeded): ``python bench/data/context/generate.py`` rewrites the same files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
DAY_US = 86_400_000_000
NOW_US = 1_780_000_000_000_000  # the suite's "now": freshness is measured from here
FILLER_WORDS = [
    "the",
    "insurer",
    "may",
    "request",
    "further",
    "documents",
    "within",
    "a",
    "reasonable",
    "period",
    "after",
    "notification",
    "of",
    "the",
    "claim",
    "and",
    "the",
    "insured",
    "shall",
    "cooperate",
    "fully",
    "with",
    "any",
    "adjuster",
    "appointed",
    "for",
    "the",
    "assessment",
    "of",
    "damage",
    "while",
    "keeping",
    "records",
    "of",
    "all",
    "communications",
    "and",
    "expenses",
    "incurred",
    "in",
    "mitigation",
]


def chunk(
    cid: str, source: str, text: str, meta: dict[str, object], trust: float, age_days: float
) -> dict[str, object]:
    return {
        "chunk_id": cid,
        "source": source,
        "text": text,
        "meta": meta,
        "trust": trust,
        "updated_us": NOW_US - int(age_days * DAY_US),
    }


def filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(FILLER_WORDS) for _ in range(n)).capitalize() + "."


# -- domain 1: insurance claims --------------------------------------------------------------
PERILS = {
    "water": (
        "water damage",
        "burst pipe flooded the kitchen",
        "photos of the damage and a plumber's report",
    ),
    "theft": ("theft", "burglars took jewellery and a laptop", "a police report number and receipts"),
    "fire": ("fire", "a kitchen fire damaged the walls", "the fire brigade report and photos"),
    "storm": ("storm", "a storm tore tiles off the roof", "a weather report for the date and photos"),
    "glass": ("glass breakage", "the patio door glass shattered", "the glazier's invoice"),
    "collision": ("vehicle collision", "a car hit the garden wall", "the other driver's details and photos"),
}


def insurance(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    pool: list[dict[str, object]] = []
    policies = []
    for n in range(60):
        pid = f"P-{1001 + n}"
        limit = rng.choice([5000, 10000, 20000, 50000, 75000])
        deductible = rng.choice([100, 250, 500, 1000])
        covered = sorted(rng.sample(sorted(PERILS), 4))
        excluded = sorted(set(PERILS) - set(covered))
        policies.append((pid, covered, excluded))
        meta = {"policy_id": pid}
        pool.append(
            chunk(
                f"policies:{pid}.md#terms",
                "policies",
                f"Policy {pid} / Terms\nPolicy {pid} pays at most {limit} USD per claim after a deductible of "
                f"{deductible} USD. The policy holder must notify a claim within 30 days.",
                {**meta, "section": "terms", "limit_usd": limit, "deductible_usd": deductible},
                0.9,
                rng.uniform(10, 300),
            )
        )
        pool.append(
            chunk(
                f"policies:{pid}.md#covered-perils",
                "policies",
                f"Policy {pid} / Covered perils\nPolicy {pid} covers "
                + ", ".join(PERILS[p][0] for p in covered)
                + ". Each covered peril is paid up to the policy limit.",
                {**meta, "section": "covered-perils"},
                0.9,
                rng.uniform(10, 300),
            )
        )
        pool.append(
            chunk(
                f"policies:{pid}.md#exclusions",
                "policies",
                f"Policy {pid} / Exclusions\nPolicy {pid} does not cover "
                + " or ".join(PERILS[p][0] for p in excluded)
                + ". Claims for excluded perils are declined.",
                {**meta, "section": "exclusions"},
                0.9,
                rng.uniform(10, 300),
            )
        )
        pool.append(
            chunk(
                f"policies:{pid}.md#procedure",
                "policies",
                f"Policy {pid} / Claims procedure\n" + filler(rng, 40),
                {**meta, "section": "procedure"},
                0.9,
                rng.uniform(10, 300),
            )
        )
    for key, (name, _, docs) in PERILS.items():
        pool.append(
            chunk(
                f"guidelines:{key}.md#evidence",
                "guidelines",
                f"Handling {name} claims / Evidence\nA {name} claim needs {docs} before any payment. "
                f"Adjusters check that the {name} happened within the policy period.",
                {"peril": key, "section": "evidence"},
                0.8,
                rng.uniform(30, 700),
            )
        )
        pool.append(
            chunk(
                f"guidelines:{key}.md#fraud-signals",
                "guidelines",
                f"Handling {name} claims / Fraud signals\n"
                + filler(rng, 30)
                + f" Repeated {name} claims are reviewed.",
                {"peril": key, "section": "fraud-signals"},
                0.8,
                rng.uniform(30, 700),
            )
        )
    for n in range(60):
        pool.append(
            chunk(
                f"regulation:art-{n + 1}",
                "regulation",
                f"Article {n + 1}. " + filler(rng, 60),
                {"article": n + 1},
                0.6,
                rng.uniform(300, 2000),
            )
        )
    instances: list[dict[str, object]] = []
    for n in range(40):
        pid, covered, excluded = rng.choice(policies)
        peril = rng.choice(covered + excluded)
        name, story, _ = PERILS[peril]
        section = "covered-perils" if peril in covered else "exclusions"
        instances.append(
            {
                "id": f"insurance-{n + 1}",
                "domain": "insurance",
                "query": f"Claim on policy {pid}: {story}. The claimant reports {name} and asks for payment.",
                "filters": {"policy_id": pid},
                "declared": [
                    {"id": "terms", "source": "policies", "where": {"policy_id": pid, "section": "terms"}}
                ],
                "gold": [
                    f"policies:{pid}.md#terms",
                    f"policies:{pid}.md#{section}",
                    f"guidelines:{peril}.md#evidence",
                ],
                "gold_where": [
                    {"source": "policies", "where": {"policy_id": pid, "section": "terms"}},
                    {"source": "policies", "where": {"policy_id": pid, "section": section}},
                    {"source": "guidelines", "where": {"peril": peril, "section": "evidence"}},
                ],
            }
        )
    return pool, instances


# -- domain 2: IT incidents ------------------------------------------------------------------
SYMPTOMS = {
    "latency": (
        "high latency",
        "p99 latency above 2 seconds",
        "scale out the web tier and check the slow query log",
    ),
    "errors": (
        "error rate",
        "5xx error rate above 5 percent",
        "roll back the last deploy and page the owner",
    ),
    "disk": ("disk full", "disk usage at 97 percent on the data volume", "rotate logs and expand the volume"),
    "memory": (
        "memory leak",
        "resident memory growing without bound",
        "restart pods one by one and take a heap dump",
    ),
    "certificate": (
        "certificate expiry",
        "TLS certificate expires in 3 days",
        "renew the certificate with the internal CA",
    ),
}
SERVICES = [
    f"{a}-{b}"
    for a in ("billing", "search", "checkout", "auth", "catalog", "ledger", "notify", "report")
    for b in ("api", "worker", "db", "cache", "gateway")
]


def incidents(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    pool: list[dict[str, object]] = []
    for svc in SERVICES:
        owner = rng.choice(["team-red", "team-blue", "team-green", "team-gold"])
        tier = rng.choice([1, 2, 3])
        pool.append(
            chunk(
                f"catalog:{svc}",
                "catalog",
                f"service: {svc}\nowner: {owner}\ntier: {tier}\nslo: {rng.choice([99.9, 99.5, 99.0])}\n"
                f"oncall: {owner}-oncall",
                {"service": svc, "owner": owner, "tier": tier},
                0.95,
                rng.uniform(1, 90),
            )
        )
        for key, (name, _, action) in SYMPTOMS.items():
            pool.append(
                chunk(
                    f"runbooks:{svc}.md#{key}",
                    "runbooks",
                    f"Runbook {svc} / {name}\nWhen {svc} shows {name}: {action}. "
                    f"Escalate to {owner} if not resolved in {rng.choice([15, 30, 60])} minutes.",
                    {"service": svc, "symptom": key},
                    0.85,
                    rng.uniform(5, 400),
                )
            )
    for n in range(120):
        svc = rng.choice(SERVICES)
        key = rng.choice(sorted(SYMPTOMS))
        pool.append(
            chunk(
                f"postmortems:pm-{n + 1}",
                "postmortems",
                f"Postmortem {n + 1}: {SYMPTOMS[key][0]} on {svc}. " + filler(rng, 50),
                {"service": svc, "symptom": key, "kind": "postmortem"},
                0.5,
                rng.uniform(30, 900),
            )
        )
    instances: list[dict[str, object]] = []
    for n in range(40):
        svc = rng.choice(SERVICES)
        key = rng.choice(sorted(SYMPTOMS))
        name, signal, _ = SYMPTOMS[key]
        instances.append(
            {
                "id": f"incidents-{n + 1}",
                "domain": "incidents",
                "query": f"Alert on {svc}: {signal}. What is the {name} remediation and who owns the service?",
                "filters": {"service": svc},
                "declared": [{"id": "owner", "source": "catalog", "where": {"service": svc}}],
                "gold": [f"catalog:{svc}", f"runbooks:{svc}.md#{key}"],
                "gold_where": [
                    {"source": "catalog", "where": {"service": svc}},
                    {"source": "runbooks", "where": {"service": svc, "symptom": key}},
                ],
            }
        )
    return pool, instances


# -- domain 3: e-commerce returns ------------------------------------------------------------
CATEGORIES = ("shoes", "phones", "furniture", "books", "toys", "kitchen", "garden", "clothing")
REASONS = {
    "damaged": ("arrived damaged", "the item arrived broken in the box"),
    "changed_mind": ("changed mind", "the customer no longer wants the item"),
    "wrong_item": ("wrong item", "a different item was delivered"),
}
COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "PL", "SE", "UK", "US", "CA")


def returns(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    pool: list[dict[str, object]] = []
    products = []
    for n in range(300):
        pid = f"SKU-{20000 + n}"
        cat = rng.choice(CATEGORIES)
        products.append((pid, cat))
        pool.append(
            chunk(
                f"products:{pid}",
                "products",
                f"product_id: {pid}\ncategory: {cat}\nprice: {rng.randint(5, 900)}.00\nfinal_sale: {rng.choice(['no', 'no', 'yes'])}",
                {"product_id": pid, "category": cat},
                0.95,
                rng.uniform(1, 60),
            )
        )
    for cat in CATEGORIES:
        window = rng.choice([14, 30, 60])
        for key, (name, _) in REASONS.items():
            pool.append(
                chunk(
                    f"return-policy:{cat}.md#{key}",
                    "return-policy",
                    f"Returns of {cat} / {name}\nFor {cat} returned because the item {name.replace('arrived ', '')}: "
                    + (
                        "a free label and full refund"
                        if key != "changed_mind"
                        else f"returns within {window} days, buyer pays shipping"
                    )
                    + ".",
                    {"category": cat, "reason": key},
                    0.9,
                    rng.uniform(30, 365),
                )
            )
    for c in COUNTRIES:
        pool.append(
            chunk(
                f"country-rules:{c}",
                "country-rules",
                f"Country {c} consumer rules\nCustomers in {c} may withdraw within {rng.choice([14, 30])} days; "
                f"refunds are due within {rng.choice([14, 30])} days of the return.",
                {"country": c},
                0.9,
                rng.uniform(100, 800),
            )
        )
    for n in range(80):
        pool.append(
            chunk(
                f"faq:q{n + 1}",
                "faq",
                f"FAQ {n + 1}: " + filler(rng, 45),
                {"kind": "faq"},
                0.4,
                rng.uniform(10, 1000),
            )
        )
    instances: list[dict[str, object]] = []
    for n in range(40):
        pid, cat = rng.choice(products)
        key = rng.choice(sorted(REASONS))
        country = rng.choice(COUNTRIES)
        name, story = REASONS[key]
        instances.append(
            {
                "id": f"returns-{n + 1}",
                "domain": "returns",
                "query": f"Return request from {country} for {pid} ({cat}): {story}. Reason: {name}.",
                "filters": {"product_id": pid, "category": cat, "country": country},
                "declared": [{"id": "product", "source": "products", "where": {"product_id": pid}}],
                "gold": [f"products:{pid}", f"return-policy:{cat}.md#{key}", f"country-rules:{country}"],
                "gold_where": [
                    {"source": "products", "where": {"product_id": pid}},
                    {"source": "return-policy", "where": {"category": cat, "reason": key}},
                    {"source": "country-rules", "where": {"country": country}},
                ],
            }
        )
    return pool, instances


# -- part 2, added after the first measurement: the query is the event's free text only ----------
# In part 1 every query restates the event's ids ("Claim on policy P-1005: ..."), and plain BM25
# already found most gold there. An event's free text usually does not: the claimant writes about the
# loss, the ids travel in the event's fields (the step's declared filters). Same pools, same gold
# semantics; the ids and the peril/symptom/reason are drawn from the pools written above.
FREE_TEXT = {
    "water": [
        "my basement is under water since the pipe behind the wall gave out",
        "the ceiling is dripping and the floor boards are soaked",
    ],
    "theft": [
        "someone broke in while we were away and took my laptop and rings",
        "my bike and tools are gone from the shed, the lock was cut",
    ],
    "fire": [
        "the pan caught fire and the kitchen walls are black with soot",
        "smoke and flames ruined the living room last night",
    ],
    "storm": [
        "the wind last night ripped tiles off the roof and broke the fence",
        "heavy gusts threw a tree branch onto the roof",
    ],
    "glass": ["the patio door shattered when it slammed", "a ball went through the living room window"],
    "collision": [
        "a van backed into our garden wall and knocked it down",
        "a driver lost control and hit the front of the house",
    ],
    "latency": ["pages take ages to load and users are timing out", "responses are slow, p99 is way up"],
    "errors": ["lots of 500s since the last release", "requests failing with server errors"],
    "disk": ["writes are failing, no space left on device", "the data volume is almost out of space"],
    "memory": ["pods keep getting OOM killed", "RSS keeps climbing until the process dies"],
    "certificate": [
        "browsers will soon warn about the TLS cert",
        "the cert on the endpoint runs out this week",
    ],
    "damaged": [
        "it came smashed, the box was crushed",
        "the item is broken, it was like that when I opened it",
    ],
    "changed_mind": [
        "I don't want it anymore, can I send it back",
        "not what I hoped for, I'd like my money back",
    ],
    "wrong_item": ["you sent me something else than what I ordered", "this is not the item on my order"],
}


def free_text(pools: dict[str, list[dict[str, object]]], rng: random.Random) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    policies: dict[str, dict[str, str]] = {}
    for c in pools["insurance"]:
        meta = c["meta"]
        if c["source"] == "policies" and meta["section"] in ("covered-perils", "exclusions"):  # type: ignore[index]
            policies.setdefault(meta["policy_id"], {})[meta["section"]] = str(c["text"])  # type: ignore[index]
    for n in range(20):
        pid = rng.choice(sorted(policies))
        peril = rng.choice(sorted(PERILS))
        section = (
            "covered-perils"
            if PERILS[peril][0] in policies[pid]["covered-perils"].split("\n", 1)[1]
            else "exclusions"
        )
        out.append(
            {
                "id": f"insurance-free-{n + 1}",
                "domain": "insurance",
                "part": "free text",
                "query": rng.choice(FREE_TEXT[peril]),
                "filters": {"policy_id": pid},
                "declared": [
                    {"id": "terms", "source": "policies", "where": {"policy_id": pid, "section": "terms"}}
                ],
                "gold": [
                    f"policies:{pid}.md#terms",
                    f"policies:{pid}.md#{section}",
                    f"guidelines:{peril}.md#evidence",
                ],
                "gold_where": [
                    {"source": "policies", "where": {"policy_id": pid, "section": "terms"}},
                    {"source": "policies", "where": {"policy_id": pid, "section": section}},
                    {"source": "guidelines", "where": {"peril": peril, "section": "evidence"}},
                ],
            }
        )
    for n in range(20):
        svc = rng.choice(SERVICES)
        key = rng.choice(sorted(SYMPTOMS))
        out.append(
            {
                "id": f"incidents-free-{n + 1}",
                "domain": "incidents",
                "part": "free text",
                "query": rng.choice(FREE_TEXT[key]),
                "filters": {"service": svc},
                "declared": [{"id": "owner", "source": "catalog", "where": {"service": svc}}],
                "gold": [f"catalog:{svc}", f"runbooks:{svc}.md#{key}"],
                "gold_where": [
                    {"source": "catalog", "where": {"service": svc}},
                    {"source": "runbooks", "where": {"service": svc, "symptom": key}},
                ],
            }
        )
    products = [
        (c["meta"]["product_id"], c["meta"]["category"])  # type: ignore[index]
        for c in pools["returns"]
        if c["source"] == "products"
    ]
    for n in range(20):
        pid, cat = rng.choice(products)
        key = rng.choice(sorted(REASONS))
        country = rng.choice(COUNTRIES)
        out.append(
            {
                "id": f"returns-free-{n + 1}",
                "domain": "returns",
                "part": "free text",
                "query": rng.choice(FREE_TEXT[key]),
                "filters": {"product_id": pid, "category": cat, "country": country},
                "declared": [{"id": "product", "source": "products", "where": {"product_id": pid}}],
                "gold": [f"products:{pid}", f"return-policy:{cat}.md#{key}", f"country-rules:{country}"],
                "gold_where": [
                    {"source": "products", "where": {"product_id": pid}},
                    {"source": "return-policy", "where": {"category": cat, "reason": key}},
                    {"source": "country-rules", "where": {"country": country}},
                ],
            }
        )
    return out


def main() -> None:
    rng = random.Random(16)
    suite = []
    for name, make in (("insurance", insurance), ("incidents", incidents), ("returns", returns)):
        pool, instances = make(rng)
        with (HERE / f"pool_{name}.jsonl").open("w") as out:
            out.writelines(json.dumps(c, sort_keys=True) + "\n" for c in pool)
        suite.extend(instances)
    with (HERE / "suite.jsonl").open("w") as out:
        out.writelines(json.dumps(i, sort_keys=True) + "\n" for i in suite)
    pools = {
        d: [json.loads(line) for line in (HERE / f"pool_{d}.jsonl").open()]
        for d in ("insurance", "incidents", "returns")
    }
    with (HERE / "suite_free_text.jsonl").open("w") as out:
        out.writelines(json.dumps(i, sort_keys=True) + "\n" for i in free_text(pools, random.Random(1616)))


if __name__ == "__main__":
    main()
