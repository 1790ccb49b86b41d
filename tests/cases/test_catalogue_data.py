"""Integrity tests for the MEHR check catalogue data (no database, no Django)."""

import ast
import itertools
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest

from cases.catalogue import data
from cases.catalogue.data import (
    CATEGORIES,
    CHECKS,
    COHORTS,
    EXCLUDED_CATEGORIES,
    MEHR_VERSIONS,
    PARTIES,
    STAGES,
    CheckData,
)

CHECKS_BY_CODE: dict[str, CheckData] = {check["code"]: check for check in CHECKS}
VERSIONS_BY_NAME = {version["version"]: version for version in MEHR_VERSIONS}
STEP_KINDS = {"INVESTIGATE", "CORRECT"}
STAGE_CATEGORY = dict(zip(STAGES, CATEGORIES, strict=True))
# A sentence ends at ".", "!" or "?" followed by a capital; ";" and ":" join clauses within one sentence.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def sentences(text: str) -> list[str]:
    return [part for part in SENTENCE_END.split(text.strip()) if part]


# ---------------------------------------------------------------- module shape


def test_constants_are_exactly_the_agreed_values() -> None:
    assert STAGES == (
        "MA_FILE_VALIDATION",
        "MA_RECORD_VALIDATION",
        "PRE_MIGRATION",
        "COMMUNICATIONS",
        "DATA_VALIDATION",
        "CREDENTIALS",
        "DEVICE_HAN",
        "COMMISSIONING",
        "POST_MIGRATION",
    )
    assert CATEGORIES == (
        "MA_FILE_REJECTED",
        "MA_RECORD_REJECTED",
        "PRE_MIGRATION",
        "COMMUNICATIONS",
        "DATA_VALIDATION",
        "CREDENTIALS_SECURITY",
        "DEVICE_HAN",
        "COMMISSIONING",
        "POST_MIGRATION",
    )
    assert PARTIES == ("DCC", "USER", "SMSO", "DCO")
    assert COHORTS == ("IOC", "MOC_MDS", "MOC_SECURE", "FOC")
    assert EXCLUDED_CATEGORIES == (
        "MISSING_MASTER_KEYS",
        "NO_WAN_BEFORE_MIGRATION",
        "NO_WAN_DURING_MIGRATION",
        "MIGRATION_ATTEMPTS_EXHAUSTED",
        "SUPPLIER_DECLARED_UNMIGRATABLE",
    )


@pytest.mark.parametrize(
    ("literal", "values"),
    [
        (data.Stage, STAGES),
        (data.Category, CATEGORIES),
        (data.Party, PARTIES),
        (data.Cohort, COHORTS),
        (data.ExcludedCategory, EXCLUDED_CATEGORIES),
        (data.StepKind, tuple(sorted(STEP_KINDS))),
    ],
)
def test_literal_types_match_value_tuples(literal: Any, values: tuple[str, ...]) -> None:
    assert sorted(get_args(literal)) == sorted(values)


def test_data_module_does_not_import_django() -> None:
    tree = ast.parse(Path(data.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"datetime", "typing", "__future__"}


def test_every_check_has_exactly_the_agreed_keys() -> None:
    expected = set(CheckData.__annotations__)
    for check in CHECKS:
        assert set(check) == expected, check["code"]
        for step in check["steps"]:
            assert set(step) == {"party", "kind", "text"}, check["code"]
    for version in MEHR_VERSIONS:
        assert set(version) == {"version", "published_on", "effective_from", "notes"}


# ---------------------------------------------------------------- codes, stages, categories


def test_codes_are_unique_and_well_formed() -> None:
    duplicates = [code for code, count in Counter(c["code"] for c in CHECKS).items() if count > 1]
    assert duplicates == []
    for check in CHECKS:
        assert re.fullmatch(r"[A-Z]{2}\d{2,3}", check["code"]), check["code"]


def test_at_least_25_checks() -> None:
    assert len(CHECKS) >= 25


def test_stages_and_categories_are_allowed_and_consistent() -> None:
    for check in CHECKS:
        assert check["stage"] in STAGES, check["code"]
        assert check["category"] in CATEGORIES, check["code"]
        assert STAGE_CATEGORY[check["stage"]] == check["category"], check["code"]


def test_every_stage_and_category_is_covered() -> None:
    assert {c["stage"] for c in CHECKS} == set(STAGES)
    assert {c["category"] for c in CHECKS} == set(CATEGORIES)


def test_every_stage_has_a_live_check() -> None:
    assert {c["stage"] for c in CHECKS if c["retired_in"] is None} == set(STAGES)


# ---------------------------------------------------------------- field values


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c["code"])
def test_check_fields(check: CheckData) -> None:
    assert check["acting_party"] in PARTIES
    assert isinstance(check["retryable"], bool)
    assert isinstance(check["blocks_migration"], bool)
    assert check["cohorts"], "a check applies to at least one cohort"
    assert set(check["cohorts"]) <= set(COHORTS)
    assert len(set(check["cohorts"])) == len(check["cohorts"])
    assert check["exclusion_category"] is None or check["exclusion_category"] in EXCLUDED_CATEGORIES
    assert isinstance(check["sla_response_days"], int) and check["sla_response_days"] >= 1
    assert isinstance(check["sla_resolution_days"], int)
    assert check["sla_resolution_days"] >= check["sla_response_days"]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c["code"])
def test_title_and_description(check: CheckData) -> None:
    title = check["title"]
    assert title and len(title) <= 60 and not title.endswith(".")
    description = check["description"]
    assert description.endswith(".")
    assert 2 <= len(sentences(description)) <= 4, sentences(description)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c["code"])
def test_procedure_steps(check: CheckData) -> None:
    steps = check["steps"]
    assert 3 <= len(steps) <= 7
    for step in steps:
        assert step["party"] in PARTIES
        assert step["kind"] in STEP_KINDS
        text = step["text"]
        assert text[0].isupper() and text.endswith("."), text
        assert len(sentences(text)) == 1, f"one sentence per step: {text}"
    parties = [step["party"] for step in steps]
    assert check["acting_party"] in parties
    # The party that acts first investigates first (self-help before escalation).
    assert steps[0]["party"] == check["acting_party"]
    assert steps[0]["kind"] == "INVESTIGATE"
    assert any(step["kind"] == "CORRECT" for step in steps)


def test_user_acting_checks_start_with_self_help() -> None:
    for check in CHECKS:
        if check["acting_party"] == "USER":
            assert check["steps"][0]["party"] == "USER", check["code"]


def test_exclusion_checks_stop_migration() -> None:
    for check in CHECKS:
        if check["exclusion_category"] is not None:
            assert check["retryable"] is False, check["code"]
            assert check["blocks_migration"] is True, check["code"]
            assert "exclusion" in check["description"].lower(), check["code"]


def test_site_visit_checks_allow_longer_resolution() -> None:
    for check in CHECKS:
        texts = [step["text"].lower() for step in check["steps"] if step["kind"] == "CORRECT"]
        visit_is_the_fix = any(text.startswith("book a site visit") for text in texts)
        if visit_is_the_fix and check["acting_party"] == "USER" and check["stage"] == "DEVICE_HAN":
            assert check["sla_resolution_days"] >= 10, check["code"]


# ---------------------------------------------------------------- versions and history


def test_at_least_four_versions_with_unique_well_formed_names() -> None:
    names = [v["version"] for v in MEHR_VERSIONS]
    assert len(names) >= 4
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"\d+\.\d+", name), name


def test_versions_are_ordered_and_dates_consistent() -> None:
    names = [v["version"] for v in MEHR_VERSIONS]
    assert names == sorted(names, key=version_key)
    for version in MEHR_VERSIONS:
        assert isinstance(version["published_on"], date)
        assert isinstance(version["effective_from"], date)
        assert version["published_on"] <= version["effective_from"], version["version"]
        assert version["notes"].strip()
    for earlier, later in itertools.pairwise(MEHR_VERSIONS):
        assert earlier["effective_from"] < later["effective_from"]
        assert earlier["published_on"] < later["published_on"]


def test_expected_version_years() -> None:
    years = {v["version"]: v["effective_from"].year for v in MEHR_VERSIONS}
    assert years["1.0"] == 2019
    assert years["1.1"] == 2020
    assert years["2.0"] == 2021
    assert years["2.1"] == 2022


def test_referenced_versions_exist_and_retirement_is_later() -> None:
    for check in CHECKS:
        introduced = check["introduced_in"]
        assert introduced in VERSIONS_BY_NAME, check["code"]
        retired = check["retired_in"]
        if retired is not None:
            assert retired in VERSIONS_BY_NAME, check["code"]
            assert version_key(retired) > version_key(introduced), check["code"]
            assert (
                VERSIONS_BY_NAME[retired]["effective_from"] > VERSIONS_BY_NAME[introduced]["effective_from"]
            ), check["code"]


def test_history_is_not_flat() -> None:
    first = MEHR_VERSIONS[0]["version"]
    assert any(c["introduced_in"] != first for c in CHECKS), "some checks arrive in later versions"


def test_two_checks_retired_in_2_0_with_reasons() -> None:
    retired = [c for c in CHECKS if c["retired_in"] == "2.0"]
    assert len(retired) == 2
    for check in retired:
        assert "retired in mehr 2.0" in check["description"].lower(), check["code"]
        assert "because" in check["description"] or "duplicate" in check["description"], check["code"]


def test_version_notes_name_the_checks_they_change() -> None:
    for version in MEHR_VERSIONS[1:]:
        name = version["version"]
        changed = [c["code"] for c in CHECKS if name in (c["introduced_in"], c["retired_in"])]
        for code in changed:
            assert code in version["notes"], (name, code)


# ---------------------------------------------------------------- required codes

REQUIRED: dict[str, dict[str, Any]] = {
    "MF001": {
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MF002": {
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MF003": {
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MA110": {
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "acting_party": {"DCC"},
        "retryable": False,
        "blocks_migration": True,
    },
    "MR001": {
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MR002": {
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MR003": {
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MR004": {
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "MR005": {
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "PM001": {
        "stage": "PRE_MIGRATION",
        "category": "PRE_MIGRATION",
        "acting_party": {"SMSO", "USER"},
        "retryable": True,
        "exclusion_category": None,
    },
    "PM002": {"stage": "PRE_MIGRATION", "category": "PRE_MIGRATION"},
    "PM003": {"stage": "PRE_MIGRATION", "category": "PRE_MIGRATION"},
    "CM001": {
        "stage": "COMMUNICATIONS",
        "category": "COMMUNICATIONS",
        "acting_party": {"DCC"},
        "retryable": True,
        "exclusion_category": None,
    },
    "CM002": {
        "stage": "COMMUNICATIONS",
        "category": "COMMUNICATIONS",
        "acting_party": {"DCC"},
        "retryable": True,
    },
    "CM003": {"stage": "COMMUNICATIONS", "category": "COMMUNICATIONS"},
    "DV001": {
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "DV002": {
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "DV003": {
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "DV004": {
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "acting_party": {"USER"},
        "retryable": True,
    },
    "CR001": {
        "stage": "CREDENTIALS",
        "category": "CREDENTIALS_SECURITY",
        "acting_party": {"USER"},
        "retryable": False,
        "exclusion_category": "MISSING_MASTER_KEYS",
    },
    "CR002": {
        "stage": "CREDENTIALS",
        "category": "CREDENTIALS_SECURITY",
        "acting_party": {"SMSO", "DCO"},
        "retryable": True,
    },
    "CR003": {"stage": "CREDENTIALS", "category": "CREDENTIALS_SECURITY"},
    "GT01": {
        "stage": "DEVICE_HAN",
        "category": "DEVICE_HAN",
        "acting_party": {"USER"},
        "retryable": True,
        "sla_resolution_days": 10,
    },
    "HN001": {"stage": "DEVICE_HAN", "category": "DEVICE_HAN"},
    "HN002": {"stage": "DEVICE_HAN", "category": "DEVICE_HAN"},
    "SM001": {
        "stage": "COMMISSIONING",
        "category": "COMMISSIONING",
        "acting_party": {"DCC"},
        "retryable": True,
    },
    "SM002": {"stage": "COMMISSIONING", "category": "COMMISSIONING"},
    "PS001": {
        "stage": "POST_MIGRATION",
        "category": "POST_MIGRATION",
        "acting_party": {"DCC"},
        "retryable": False,
        "blocks_migration": False,
    },
}


@pytest.mark.parametrize(("code", "expected"), REQUIRED.items(), ids=list(REQUIRED))
def test_required_code(code: str, expected: dict[str, Any]) -> None:
    assert code in CHECKS_BY_CODE, f"required check {code} is missing"
    check = CHECKS_BY_CODE[code]
    for key, value in expected.items():
        if key == "acting_party":
            assert check["acting_party"] in value, (code, key)
        else:
            assert check[key] == value, (code, key)  # type: ignore[literal-required]
    assert check["retired_in"] is None, f"required check {code} must be live"


def test_ma110_covers_all_cohorts_and_notes_the_moc_secure_extension() -> None:
    ma110 = CHECKS_BY_CODE["MA110"]
    assert set(ma110["cohorts"]) == set(COHORTS)
    assert "EPCL" in ma110["description"]
    assert "MOC Secure" in ma110["description"] and "2.1" in ma110["description"]
    assert "MA110" in VERSIONS_BY_NAME["2.1"]["notes"]
    assert VERSIONS_BY_NAME["2.1"]["effective_from"].year == 2022


def test_cm001_is_the_no_wan_during_migration_failure() -> None:
    description = CHECKS_BY_CODE["CM001"]["description"].lower()
    assert "no wan communications during migration" in description
    assert "session attempts" in description


def test_gt01_is_a_site_visit_migrating_electricity_only() -> None:
    gt01 = CHECKS_BY_CODE["GT01"]
    assert "electricity meter only" in gt01["description"]
    assert any("site visit" in step["text"] for step in gt01["steps"])


def test_ps001_uses_the_incident_route() -> None:
    ps001 = CHECKS_BY_CODE["PS001"]
    assert any("incident reference" in step["text"] and step["kind"] == "CORRECT" for step in ps001["steps"])


def test_only_master_keys_and_supplier_statement_exclude_directly() -> None:
    direct = {c["code"]: c["exclusion_category"] for c in CHECKS if c["exclusion_category"]}
    assert direct["CR001"] == "MISSING_MASTER_KEYS"
    assert set(direct.values()) <= {"MISSING_MASTER_KEYS", "SUPPLIER_DECLARED_UNMIGRATABLE"}
