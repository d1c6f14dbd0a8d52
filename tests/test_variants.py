"""Each model variant is what it says (on the bundled MiniLM, the real pretrained weights)."""

import pytest
import torch

from disc_core.errors import ConfigError
from disc_core.engine.models import resolve_model
from disc_core.engine.variants import build_model

WORD_EMB = "bert.embeddings.word_embeddings.weight"


@pytest.fixture(scope="module")
def models():
    return {v: build_model(None, v, num_labels=3, task="classification", seed=0)
            for v in ("pretrained", "rand", "re-emb")}


def _body(model):
    # the classifier head is freshly initialised in every variant; compare the encoder only
    return {k: v for k, v in model.state_dict().items() if not k.startswith("classifier")}


def test_re_emb_differs_from_pretrained_only_in_word_embeddings(models):
    pre, re = _body(models["pretrained"]), _body(models["re-emb"])
    differing = [k for k in pre if not torch.equal(pre[k], re[k])]
    assert differing == [WORD_EMB]
    w = re[WORD_EMB]
    assert abs(float(w[1:].std()) - 0.02) < 0.002  # N(0, initializer_range^2)
    assert torch.count_nonzero(w[0]) == 0  # [PAD] row zeroed as in BERT's own init


def test_rand_shares_no_trained_weight(models):
    pre, rnd = _body(models["pretrained"]), _body(models["rand"])
    assert pre.keys() == rnd.keys()
    # a constant tensor in the checkpoint (MiniLM's never-trained pooler bias is all zeros) is the
    # init value itself, not a trained weight
    trained = [k for k in pre if pre[k].is_floating_point() and float(pre[k].float().std()) > 0]
    assert len(trained) > 90
    shared = [k for k in trained if torch.equal(pre[k], rnd[k])]
    assert shared == []


def test_pretrained_reproduces_reference_hidden_states(models):
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model(None).path
    ref = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    batch = tok(["the cat sat on the mat", "protein sequences as words"], padding=True, return_tensors="pt")
    model = models["pretrained"].eval()
    with torch.no_grad():
        ours = model.bert(**batch).last_hidden_state
        theirs = ref(**batch).last_hidden_state
        rand = models["rand"].eval().bert(**batch).last_hidden_state
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert not torch.allclose(rand, theirs, atol=1e-2)


def test_regression_head_has_one_output():
    m = build_model(None, "pretrained", num_labels=5, task="regression")
    assert m.config.num_labels == 1 and m.config.problem_type == "regression"


def test_unknown_variant_is_explained():
    with pytest.raises(ConfigError, match="choose from pretrained, rand, re-emb, unused"):
        build_model(None, "scratch", num_labels=2, task="classification")


def test_comparison_labels_are_the_cells_parse_variant_accepts():
    from disc_core.engine.config import VARIANTS, comparison_labels, parse_variant

    assert comparison_labels(False) == list(VARIANTS)
    text = comparison_labels(True)
    assert {"pretrained+shift", "rand+shift", "re-emb+random-shift", "rand+random-shift"} <= set(text)
    assert not [x for x in text if x.startswith("unused+")] and "pretrained+none" not in text
    assert all(parse_variant(x)[0] in VARIANTS for x in text)
