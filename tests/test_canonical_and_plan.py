from crosslab.engine.plan import make_plan, sample_id
from crosslab.core.canonical import canonical_json, digest
from crosslab.items.item import Item
from crosslab.targets.registry import parse_target


def test_canonical_json_sorts_keys_and_has_no_whitespace():
    assert canonical_json({"b": 1, "a": [1, 2, {"d": "é", "c": None}]}) == \
        '{"a":[1,2,{"c":null,"d":"é"}],"b":1}'.encode()


def test_digest_is_order_independent_for_objects_only():
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest([1, 2]) != digest([2, 1])
    # a known value, so the encoding can't drift silently between releases
    assert digest({"a": 1}) == "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"


def test_deployment_digest_ignores_operational_limits_but_not_settings():
    base = parse_target("openai:gpt-4o-mini")
    assert base.digest == parse_target("openai:gpt-4o-mini", {"concurrency": 99, "timeout_s": 3}).digest
    assert base.digest != parse_target("openai:gpt-4o-mini", {"system_prefix": "Be safe."}).digest
    assert base.digest != parse_target("openai:gpt-4o-mini", {"temperature": 0.7}).digest
    assert base.digest != parse_target("openai:gpt-4o", {}).digest


def test_plan_is_deterministic_and_ids_are_unique():
    items = [Item.model_validate({"id": f"i{n}", "input": f"q{n}"}) for n in range(5)]
    a = make_plan(items, "t" * 64, epochs=3)
    b = make_plan(items, "t" * 64, epochs=3)
    assert [s.id for s in a] == [s.id for s in b]
    assert len({s.id for s in a}) == 15
    assert a[0].id == sample_id("i0", "", 1, "t" * 64)
    other_target = make_plan(items, "u" * 64, epochs=3)
    assert not {s.id for s in a} & {s.id for s in other_target}


def test_plan_order_and_ids_are_pinned():
    """Epoch-major order, variant "" everywhere, and ids that cannot drift (journals and bundles key on them)."""
    items = [Item.model_validate({"id": f"i{n}", "input": f"q{n}"}) for n in range(3)]
    plan = make_plan(items, "t" * 64, epochs=2)
    assert [(s.epoch, s.item.id) for s in plan] == [(e, f"i{n}") for e in (1, 2) for n in range(3)]
    assert {s.variant for s in plan} == {""}
    assert plan[0].id == "241815447b74924c8274b68e708340f4a48497b0fa6b8ccd23ed0a8f5721ab29"
    assert all(s.id == sample_id(s.item.id, "", s.epoch, "t" * 64) for s in plan)
