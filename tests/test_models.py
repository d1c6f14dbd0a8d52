import pytest

from disc_core.errors import ModelError
from disc_core.engine.models import DEFAULT_MODEL, load_config, load_tokenizer, resolve_model


def test_default_model_is_the_bundled_minilm_offline():
    ref = resolve_model(None)
    assert ref.source == "bundled" and ref.name == DEFAULT_MODEL
    cfg = load_config(None)
    assert (cfg.model_type, cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size) == ("bert", 6, 384, 30522)
    tok = load_tokenizer(None)
    assert tok.convert_ids_to_tokens(tok("hello world")["input_ids"]) == ["[CLS]", "hello", "world", "[SEP]"]


def test_local_folder_resolves(tiny_model):
    ref = resolve_model(tiny_model)
    assert ref.source == "folder"
    assert load_config(tiny_model).hidden_size == 32


def test_folder_without_config_is_explained(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_uncached_hub_id_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="models --fetch some-org/not-a-cached-model"):
        resolve_model("some-org/not-a-cached-model")
