from policy_engine.domain.document.diff import Change, diff_policies
from tests.unit.policy_engine.builders import document, rule


def test_identical_policies_have_no_changes() -> None:
    spec = {"autonomy": {"ceiling": "L2"}, "rules": [rule("a")]}
    assert diff_policies(document(spec), document(spec)) == []


def test_changes_are_added_removed_or_changed_in_document_order() -> None:
    old = document(
        {
            "models": {"allow": ["gpt-4o*"]},
            "autonomy": {"ceiling": "L2", "actions": {"db.*": "L1"}},
            "pii": {"entities": {"EMAIL": "mask", "IBAN": "deny"}},
            "deployments": {"max_agents_per_batch": 50},
        }
    )
    new = document(
        {
            "models": {"allow": ["gpt-4o*", "claude-*"]},
            "autonomy": {"ceiling": "L1", "actions": {"db.*": "L1", "fs.*": "L0"}},
            "pii": {"entities": {"EMAIL": "mask"}},
            "deployments": {"max_agents_per_batch": 50, "max_config_changes": 10},
        }
    )
    assert diff_policies(old, new) == [
        Change("spec.models.allow", ["gpt-4o*"], ["gpt-4o*", "claude-*"], "changed"),
        Change("spec.autonomy.ceiling", "L2", "L1", "changed"),
        Change('spec.autonomy.actions["fs.*"]', None, "L0", "added"),
        Change("spec.pii.entities.IBAN", "deny", None, "removed"),
        Change("spec.deployments.max_config_changes", None, 10, "added"),
    ]


def test_rules_are_matched_by_id_not_position() -> None:
    old = document({"rules": [rule("a"), rule("b"), rule("c")]})
    new = document({"rules": [rule("c"), rule("a", effect="require_approval"), rule("d")]})
    changes = diff_policies(old, new)
    assert [(c.path, c.kind) for c in changes] == [
        ("spec.rules[id=a].effect", "changed"),
        ("spec.rules[id=b]", "removed"),
        ("spec.rules[id=d]", "added"),
    ]
    assert changes[2].new["message"] == "d fired"


def test_metadata_changes_are_reported() -> None:
    changes = diff_policies(document({}, name="a"), document({}, name="b"))
    assert changes == [Change("metadata.name", "a", "b", "changed")]
    assert changes[0].to_dict() == {
        "path": "metadata.name",
        "old": "a",
        "new": "b",
        "kind": "changed",
    }
