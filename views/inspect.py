"""Inside the model: for finished runs of one group (pretrained, re-emb, rand side by side), which layers fine-tuning
rewrote (linear CKA), how far the mapped tokens' embeddings moved, and what each layer attends to."""

from pathlib import Path

import streamlit as st

from disc_core.study import inspect as inside
from ui.data import run_store
from ui.feedback import fmt_duration, plural, show_error
from ui.nav import PAGES
from ui.roles import is_teacher, teacher_help
from ui.state import shared_selectbox


@st.cache_data(show_spinner=False, max_entries=64)
def _saved(run_dir: str, n_examples: int, stamp: float):
    """The saved inspection (read from disk once per version of its file; ``stamp`` is that file's mtime)."""
    return inside.cached_inspection(run_dir, n_examples=n_examples)


def _stamp(run_dir: str) -> float:
    return p.stat().st_mtime if (p := Path(run_dir) / "inspect" / "inspect.json").exists() else 0.0


st.title("Inside the model")
st.caption("Why does an English-text model help on DNA? For a finished run and the weights it started from (the "
           "same variant rebuilt from the run's seed), on a fixed sample of the validation split: which layers the "
           "task rewrote, how far the mapped tokens' input embeddings moved, and where each layer looks. Computed "
           "once per run here (a few seconds for MiniLM) and saved beside the run; "
           "`python -m disc_core inspect RUN ...` writes the same numbers and figures.")
try:
    finished = [r for r in run_store().list(status="finished") if r.results]
except Exception as err:
    show_error(err)
    st.stop()
usable = [r for r in finished if inside.inspectable(r.run_dir) is None]
if not usable:
    st.info("No finished run with a saved model yet (baselines have no BERT to look inside). Launch a comparison of "
            "pretrained and rand on the Train page; its runs can be looked inside as soon as they finish.")
    st.page_link(PAGES["train"], label="Go to Train", icon=":material/play_circle:")
    st.stop()

groups = list(dict.fromkeys(r.group for r in sorted(usable, key=lambda r: r.finished or 0, reverse=True)))
group = shared_selectbox("Run group", groups, "group", key="inspect-group")
MAIN = ("pretrained", "re-emb", "rand")
names = {f"{r.label} seed {r.seed}": r for r in sorted((r for r in usable if r.group == group),
                                                       key=lambda r: (r.label not in MAIN, r.label, r.seed))}
default = [n for n, r in names.items() if r.seed == min(x.seed for x in names.values()) and r.label in MAIN]
chosen = st.multiselect("Runs", list(names), default=default or list(names)[:2], key=f"inspect-runs-{group}",
                        help="pretrained, re-emb and rand of one seed side by side by default")
n_examples = st.select_slider("Validation examples in the sample", [8, 16, 32, 64], value=32, key="inspect-examples",
                              help="each cut to 128 symbols; more examples: steadier numbers, a longer first look")
if not chosen:
    st.info("Pick at least one run.")
    st.stop()

datas = {n: _saved(names[n].run_dir, n_examples, _stamp(names[n].run_dir)) for n in chosen}
todo = [n for n, d in datas.items() if d is None]
if todo:
    st.info(f"Not looked inside yet with this sample: {', '.join(todo)}. This loads each model in this page's "
            "process for the small sample (a few seconds each for MiniLM), then saves the numbers beside the run.")
    if st.button(f"Look inside {plural(len(todo), 'run')}", key="inspect-go", type="primary",
                 disabled=not is_teacher(), help=teacher_help("loads each model on the server, once")):
        with st.status("Looking inside ...", expanded=True) as status:
            for n in todo:
                try:
                    inside.inspect_run(names[n].run_dir, n_examples=n_examples,
                                       progress=lambda t, n=n: status.write(f"{n}: {t}"))
                except Exception as err:
                    show_error(err)
            status.update(label="Done", state="complete")
        _saved.clear()
        st.rerun()
    if len(todo) == len(chosen):
        st.stop()
ready = [d for d in datas.values() if d is not None]
for d in (d for d in ready if d.get("predicts_one_class")):  # its insides explain no learning: say so first
    st.warning(f"**{d['label']} seed {d['seed']} predicts one class only** on the test set: what it shows below is a "
               "model that learnt nothing that tells the classes apart, not what transfer looks like.",
               icon=":material/warning:")

st.subheader("Which layers the task rewrote")
st.plotly_chart(inside.cka_figure(ready), key="inspect-cka")
st.caption("Linear CKA between the starting point's and the fine-tuned model's token representations of the same "
           "sample, layer by layer (0 = the embedding output). 1: the layer represents the sample as before (up to a "
           "rotation and a scale); low: fine-tuning rewrote it. Pretrained models typically keep their lower layers.")

st.subheader("How far the mapped tokens' input embeddings moved")
st.plotly_chart(inside.drift_figure(ready), key="inspect-drift")
cols = st.columns(len(ready))
for col, d in zip(cols, ready):
    dr = d["drift"]
    col.markdown(f"**{d['label']} seed {d['seed']}**: mean relative drift {dr['mean_relative']:.4f}; "
                 f"{dr['others_moved']} of {dr['others_n']:,} other vocabulary rows moved at all (the special tokens "
                 "the inputs carry; rows the task never used stay put)")
    col.dataframe(inside.drift_table(d).round(4), hide_index=True, key=f"inspect-drift-table-{d['label']}-{d['seed']}")
pick = st.selectbox("Where they sit among the vocabulary, before and after", [f"{d['label']} seed {d['seed']}"
                                                                               for d in ready], key="inspect-emb-run")
st.plotly_chart(inside.embedding_figure(next(d for d in ready if f"{d['label']} seed {d['seed']}" == pick)),
                key="inspect-emb")

st.subheader("Attention")
st.plotly_chart(inside.entropy_figure(ready), key="inspect-entropy")
st.caption("Mean entropy of each layer's attention over the sample (solid: fine-tuned, dotted: where it started; the "
           "dashed line is attention spread evenly over every symbol). Low entropy: heads that look at few symbols.")
a, b, c, e, f = st.columns([2, 1, 1, 1, 1])
pick = a.selectbox("Run", [f"{d['label']} seed {d['seed']}" for d in ready], key="inspect-att-run")
d = next(x for x in ready if f"{x['label']} seed {x['seed']}" == pick)
att = d["attention"]
example = b.selectbox("Example", list(range(len(att["tokens"]))), key="inspect-att-example",
                      format_func=lambda i: f"{i + 1} ({att['labels'][i]})")
layer = c.selectbox("Layer", list(range(1, att["layers"] + 1)), index=att["layers"] - 1, key="inspect-att-layer")
head = e.selectbox("Head", ["mean", *range(att["heads"])], key="inspect-att-head")
which = f.radio("Weights", ["finished", "start"], key="inspect-att-which", horizontal=True,
                format_func=lambda w: {"finished": "fine-tuned", "start": "start"}[w])
st.plotly_chart(inside.attention_figure(d, layer - 1, None if head == "mean" else int(head), example, which),
                key="inspect-att")
st.caption(f"Each row is a symbol attending to the others (columns) on one {d['split']} example. Sample: "
           f"{d['n_examples']} examples, {d['n_tokens']:,} symbols; computed in {fmt_duration(d.get('time_s'))}.")
