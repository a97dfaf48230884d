import pytest

from agent.catalogue import APPLY_PATCH_FORMATS, catalogue
from agent.config import Settings


def test_the_shipped_catalogue_knows_the_default_model_with_prices_and_says_where_they_come_from():
    info = catalogue().lookup("gpt-5.2")
    assert info.known and info.priced
    assert info.context_window > info.max_output_tokens > 0
    assert info.cached_input_per_mtok is not None and info.input_per_mtok is not None
    assert info.cached_input_per_mtok < info.input_per_mtok
    assert catalogue().provenance.checked and "openai" in catalogue().provenance.source.lower()


def test_an_unknown_model_gets_the_default_entry_marked_unknown():
    info = catalogue().lookup("my-local-model")
    assert not info.known and info.name == "my-local-model" and not info.priced
    assert catalogue().lookup("GPT-5.2").known


def test_overrides_change_a_known_model_or_add_a_new_one():
    changed = catalogue().with_overrides(
        {"gpt-5.2": {"context_window": 1000}, "local": {"context_window": 8192, "input_per_mtok": 0}}
    )
    assert changed.lookup("gpt-5.2").context_window == 1000
    assert changed.lookup("gpt-5.2").output_per_mtok == catalogue().lookup("gpt-5.2").output_per_mtok
    local = changed.lookup("local")
    assert local.known and local.context_window == 8192 and local.input_per_mtok == 0.0


@pytest.mark.parametrize(
    "changes",
    [{"window": 5}, {"context_window": 0}, {"context_window": "big"}, {"input_per_mtok": -1}, {"reasoning": 1}],
)
def test_a_bad_override_names_the_model_and_the_field(changes):
    with pytest.raises(ValueError, match="model 'gpt-5.2'"):
        catalogue().with_overrides({"gpt-5.2": changes})


def test_codeassist_serves_scripted_models_are_known_by_pattern_under_their_own_name():
    for name in ("scripted", "scripted-test", "codeassist-demo-scripted"):
        info = catalogue().lookup(name)
        assert info.known and info.name == name and not info.priced
    assert "scripted" in catalogue().provenance.source


def test_an_override_of_a_differently_spelled_or_pattern_matched_name_changes_that_entry():
    changed = catalogue().with_overrides({"GPT-5.2": {"context_window": 1000}, "scripted-test": {"reasoning": False}})
    assert changed.lookup("gpt-5.2").context_window == 1000
    assert not changed.lookup("scripted-test").reasoning and changed.lookup("scripted-test").context_window == 200000
    assert changed.lookup("scripted-other").reasoning


def test_an_override_that_is_not_a_table_names_the_model():
    with pytest.raises(ValueError, match="model 'local': must be a table"):
        catalogue().with_overrides({"local": 5})


def test_apply_patch_is_freeform_for_the_gpt_5_models_and_a_function_elsewhere():
    shipped = catalogue()
    assert {info.apply_patch_format for info in shipped.models.values()} <= set(APPLY_PATCH_FORMATS)
    for name in ("gpt-5", "gpt-5-mini", "gpt-5.2", "gpt-5.2-codex", "gpt-5.1-codex", "gpt-5.4"):
        assert shipped.lookup(name).apply_patch_format == "freeform", name
    for name in ("gpt-4.1", "scripted", "scripted-test", "my-local-model"):
        assert shipped.lookup(name).apply_patch_format == "function", name


def test_the_models_table_chooses_the_apply_patch_form_and_refuses_an_unknown_one():
    changed = catalogue().with_overrides(
        {"gpt-5.2": {"apply_patch_format": "function"}, "local": {"apply_patch_format": "freeform"}}
    )
    assert changed.lookup("gpt-5.2").apply_patch_format == "function"
    assert changed.lookup("local").apply_patch_format == "freeform"
    with pytest.raises(ValueError, match=r"model 'local': apply_patch_format must be one of 'function', 'freeform'"):
        catalogue().with_overrides({"local": {"apply_patch_format": "grammar"}})
    with pytest.raises(ValueError, match="apply_patch_format"):
        Settings(models={"local": {"apply_patch_format": True}})
