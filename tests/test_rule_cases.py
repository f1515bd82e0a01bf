"""Hand-written phrasings (not from the dev set) that the rule layer must get right:
`must` labels flagged, `not` labels absent. One line per case in tests/data/rule_cases.jsonl."""

import json
from pathlib import Path

import pytest

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "rule_cases.jsonl").open()]


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:40] for c in CASES])
def test_rule_case(analyzer, case):
    labels = set(analyzer.analyze(case["text"]).labels)
    assert set(case.get("must", [])) <= labels, f"missing {set(case.get('must', [])) - labels}"
    assert not set(case.get("not", [])) & labels, f"unexpected {set(case.get('not', [])) & labels}"
