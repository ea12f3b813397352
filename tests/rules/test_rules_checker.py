"""The checker: unknown names with suggestions, types, action arguments, sections and dead rules."""

from __future__ import annotations

import pytest

import rules


def problems(text: str, severity: str = "error") -> list[rules.Diagnostic]:
    return [d for d in rules.check(text) if d.severity == severity]


def only(text: str, severity: str = "error") -> rules.Diagnostic:
    found = problems(text, severity)
    assert len(found) == 1, [d.message for d in found]
    return found[0]


@pytest.mark.parametrize(
    "text, word, suggestion",
    [
        ("if valeu < 10 then refund", "valeu", "value"),
        ("if item.customised then refund", "item.customised", "item.customized"),
        ("if buyer.order > 3 then refund", "buyer.order", "buyer.orders"),
        ("if days_since_delivry > 30 then refund", "days_since_delivry", "days_since_delivery"),
        ("if Value < 3 then refund", "Value", "value"),
    ],
)
def test_unknown_field_suggests_the_nearest(text: str, word: str, suggestion: str) -> None:
    diag = only(text)
    assert diag.code == "field.unknown"
    assert diag.message == f"unknown field `{word}`; did you mean `{suggestion}`?"
    assert diag.suggestion == suggestion


@pytest.mark.parametrize(
    "text, suggestion",
    [
        ("if value < 1 then refnd", "refund"),
        ("if value < 1 then aprove_return", "approve_return"),
        ("if value < 1 then manual-review", None),
        ("if value < 1 then escalte", "escalate"),
    ],
)
def test_unknown_action(text: str, suggestion: str | None) -> None:
    found = problems(text)
    assert found and found[0].code in ("action.unknown", "syntax.unexpected")
    if suggestion:
        assert found[0].suggestion == suggestion


def test_unknown_event_suggests() -> None:
    diag = only("on return_recieved:\nif value > 1 then refund")
    assert (diag.code, diag.line, diag.column, diag.suggestion) == ("event.unknown", 1, 4, "return_received")


@pytest.mark.parametrize(
    "text, value, suggestion",
    [
        ('if market == "USA" then refund', "USA", "US"),
        ('if market == "us" then refund', "us", "US"),
        ('if currency == "EURO" then refund', "EURO", "EUR"),
        ('if reason == "sizes" then refund', "sizes", "size"),
        ('if channel in ["live", "ads"] then refund', "ads", "ad"),
        ('if tracking.status == "delivred" then refund', "delivred", "delivered"),
        ('if return.status != "recieved" then refund', "recieved", "received"),
        ('if inspection.result == "passed" then refund', "passed", "pass"),
        ('if type == "refund" then refund', "refund", "refund_only"),
        ('if "USA" == market then refund', "USA", "US"),
    ],
)
def test_enumerated_values(text: str, value: str, suggestion: str) -> None:
    diag = only(text)
    assert diag.code == "value.unknown"
    assert f"`{value}`" in diag.message and diag.suggestion == suggestion


@pytest.mark.parametrize(
    "market", ["US", "UK", "DE", "FR", "IT", "ES", "MY", "SG", "TH", "VN", "PH", "ID", "MX", "JP"]
)
def test_markets_are_iso_codes(market: str) -> None:
    assert problems(f'if market == "{market}" then refund') == []


@pytest.mark.parametrize(
    "currency", ["USD", "GBP", "EUR", "MYR", "SGD", "THB", "VND", "PHP", "IDR", "MXN", "JPY", "CNY"]
)
def test_currencies_are_iso_codes(currency: str) -> None:
    assert problems(f'if currency == "{currency}" then refund') == []


def test_category_is_open_but_near_misses_warn() -> None:
    assert problems('if category == "garden" then refund', "warning") == []
    diag = only('if category == "jewellery" then refund', "warning")
    assert diag.suggestion == "jewelry"


@pytest.mark.parametrize(
    "text, code",
    [
        ('if value < "ten" then refund', "type.order"),
        ("if market > 3 then refund", "type.order"),
        ('if value == "ten" then refund', "type.compare"),
        ("if item.customized == 1 then refund", "type.compare"),
        ("if value then refund", "type.condition"),
        ("if market then refund", "type.condition"),
        ("if value > 1 and value then refund", "type.logic"),
        ("if not value then refund", "type.logic"),
        ('if value + "a" > 3 then refund', "type.arith"),
        ("if -market > 3 then refund", "type.arith"),
        ("if market * 2 > 3 then refund", "type.arith"),
        ("if value > 20% then refund", "type.arg_only"),
        ("if hours_open > 3 days then refund", "type.arg_only"),
        ('if market in "US" then refund', "type.in_list"),
        ("if market not in market then refund", "type.in_list"),
        ('if value in ["a"] then refund', "type.compare"),
        ('if market in ["US", 3] then refund', "type.list_mixed"),
        ("if value contains 3 then refund", "type.contains"),
        ("if sku contains 3 then refund", "type.compare"),
        ('if ["a", "b"] contains 3 then refund', "type.compare"),
        ("if [1, 2] == [1, 2] then refund", "type.compare"),
    ],
)
def test_type_errors(text: str, code: str) -> None:
    assert only(text).code == code


@pytest.mark.parametrize(
    "text",
    [
        'if sku contains "RING" then refund',
        'if ["RING-1", "RING-2"] contains sku then refund',
        "if value * 2 - value_usd / 3 + 1 > 10 then refund",
        "if item.customized and not buyer.first_order then refund",
        "if item.customized == true then refund",
        'if market not in ["US", "UK"] then refund',
        "if value < -5 then refund",
        "if value in [1, 2.5, -3] then refund",
        "if evidence.photos + evidence.videos >= 3 then refund",
    ],
)
def test_well_typed_conditions(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    "text, code",
    [
        ("if value < 1 then reject", "args.missing"),
        ("if value < 1 then reject 5", "args.wrong"),
        ('if value < 1 then reject ""', "args.empty"),
        ("if value < 1 then reject late", "args.bare_word"),
        ('if value < 1 then request_evidence "selfie"', "args.evidence"),
        ("if value < 1 then request_evidence video", "args.bare_word"),
        ("if value < 1 then partial_refund 0%", "args.percent_range"),
        ("if value < 1 then partial_refund 120%", "args.percent_range"),
        ("if value < 1 then partial_refund -3", "args.positive"),
        ('if value < 1 then partial_refund "half"', "args.wrong"),
        ("if value < 1 then partial_refund", "args.missing"),
        ("if value < 1 then coupon 0", "args.positive"),
        ("if value < 1 then coupon 10%", "args.wrong"),
        ("if value < 1 then assign 3", "args.wrong"),
        ("if value < 1 then notify", "args.missing"),
        ('if value < 1 then set_deadline "d"', "args.missing"),
        ("if value < 1 then set_deadline 5 12 days", "args.wrong"),
        ('if value < 1 then set_deadline "d" 12', "args.wrong"),
        ('if value < 1 then set_deadline "d" 0 hours', "args.positive"),
        ('if value < 1 then refund "now"', "args.none"),
        ("if value < 1 then refund 5", "args.none"),
        ("if value < 1 then refund hold", "args.action_word"),
        ('if value < 1 then coupon 5 "x"', "args.too_many"),
    ],
)
def test_action_arguments(text: str, code: str) -> None:
    assert only(text).code == code


@pytest.mark.parametrize(
    "action",
    [
        "approve_return",
        "refund_without_return",
        "refund",
        "pre_refund",
        "partial_refund 20%",
        "partial_refund 100%",
        "partial_refund 5",
        "partial_refund 2.5",
        "coupon 5",
        "exchange",
        'reject "no"',
        'request_evidence "photo"',
        'request_evidence "video"',
        'request_evidence "document"',
        "manual_review",
        'assign "qc"',
        'set_deadline "x" 12 days',
        'notify "t"',
        "escalate",
        "hold",
    ],
)
def test_every_action_accepts_its_arguments(action: str) -> None:
    assert problems(f"if value < 1 then {action}") == []


def test_duplicate_section_is_reported_on_the_second_header() -> None:
    diag = only("on return_received:\nif value > 1 then refund\non return_received:\nif value > 2 then hold")
    assert (diag.code, diag.line, diag.params["first"]) == ("section.duplicate", 3, 1)


def test_top_rules_are_case_opened_so_naming_it_again_is_a_duplicate() -> None:
    diag = only("if value > 1 then refund\non case_opened:\nif value > 2 then hold")
    assert (diag.code, diag.line) == ("section.duplicate", 2)


def test_duplicate_deadline_section() -> None:
    text = (
        'if value > 1 then set_deadline "d" 1 day\non deadline "d":\nelse hold\non deadline "d":\nelse refund'
    )
    assert only(text).line == 4


def test_else_not_last_is_reported_on_the_else_line() -> None:
    diag = only("if value > 1 then refund\nelse hold\nif value > 2 then escalate")
    assert (diag.code, diag.line, diag.column) == ("else.not_last", 2, 1)
    assert "line 3" in diag.message


@pytest.mark.parametrize(
    "always", ["true", "not false", "1 == 1", "true or value > 3", '"a" == "a"', "2 > 1"]
)
def test_rule_after_an_always_true_rule_is_an_error(always: str) -> None:
    diag = only(f"if {always} then hold\nif value > 1 then refund")
    assert (diag.code, diag.line, diag.params["first"]) == ("rule.after_always_true", 2, 1)


def test_else_after_an_always_true_rule_is_an_error() -> None:
    assert only("if true then hold\nelse refund").code == "rule.after_always_true"


def test_always_true_last_rule_is_fine() -> None:
    assert problems("if value > 1 then refund\nif true then hold") == []


def test_never_true_rule_warns() -> None:
    assert only("if false then hold", "warning").code == "rule.never_true"


@pytest.mark.parametrize(
    "earlier, later",
    [
        ("value < 100", "value < 10"),
        ("value <= 100", "value < 100"),
        ("value >= 500", "value >= 1000"),
        ("value > 500", "value >= 501"),
        ("value >= 500", "value == 700"),
        ("value != 3", "value > 3"),
        ('market == "US"', 'market == "US" and value > 3'),
        ('market in ["US", "UK"]', 'market == "US"'),
        ('market in ["US", "UK"]', 'market in ["UK"]'),
        ('market not in ["US", "UK"]', 'market == "DE"'),
        ('market != "US"', 'market in ["DE", "FR"]'),
        ('value >= 500 and market == "US"', 'value >= 1000 and market == "US" and channel == "ad"'),
        ("item.customized", "item.customized and value > 3"),
        ("item.customized == true", "item.customized"),
        ("campaign is present", 'campaign == "summer"'),
        ('value < 10 or market == "US"', "value < 5"),
        ("value < 10", "value < 5 or value < 8"),
        ("10 > value", "value < 3"),
    ],
)
def test_unreachable_rules_warn(earlier: str, later: str) -> None:
    text = f"if {earlier} then hold\nif {later} then refund"
    diag = only(text, "warning")
    assert (diag.code, diag.line, diag.params["first"]) == ("rule.unreachable", 2, 1)
    assert problems(text) == []


@pytest.mark.parametrize(
    "earlier, later",
    [
        ("value < 10", "value < 100"),
        ("value >= 1000", "value >= 500"),
        ('market == "US"', 'market in ["US", "UK"]'),
        ('market == "US" and value > 3', 'market == "US"'),
        ('value < 10 and market == "US"', 'value < 10 or market == "US"'),
        ("campaign is missing", "value > 3"),
        ("value > 3", "value > 3 or campaign is missing"),
    ],
)
def test_reachable_rules_do_not_warn(earlier: str, later: str) -> None:
    assert problems(f"if {earlier} then hold\nif {later} then refund", "warning") == []


def test_unreachable_only_within_a_section() -> None:
    text = "if value < 100 then hold\non return_received:\nif value < 10 then refund"
    assert problems(text, "warning") == []


def test_warnings_do_not_make_the_policy_invalid() -> None:
    policy = rules.compile_policy("if value < 100 then hold\nif value < 10 then refund")
    assert [w.code for w in policy.warnings] == ["rule.unreachable"]


def test_every_problem_is_reported_at_once() -> None:
    text = (
        'if valeu < 10 then refnd\nif market == "USA" then reject\nif value < "x" then hold\n'
        "on nowhere:\nif value > 1 then hold\nelse hold\nif value > 2 then hold"
    )
    codes = [d.code for d in problems(text)]
    assert codes == [
        "field.unknown",
        "action.unknown",
        "value.unknown",
        "args.missing",
        "type.order",
        "event.unknown",
        "else.not_last",
    ]


def test_compile_policy_raises_with_every_error() -> None:
    with pytest.raises(rules.PolicyError) as caught:
        rules.compile_policy("if valeu < 10 then refund\nif value > 3 refund")
    errors = caught.value.errors
    assert [(e.line, e.column) for e in errors] == [(1, 4), (2, 14)]
    assert all(isinstance(e, rules.Diagnostic) and e.message and e.excerpt for e in errors)
