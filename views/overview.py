"""Overview: what the paper found, and one button per demo that starts it, or joins the one that is on."""

import streamlit as st

from disc_core.study.demo import DEMOS, available_demos, demo_card
from ui.feedback import show_error
from ui.nav import PAGES
from ui.roles import is_teacher, teacher_help
from ui.state import remember

st.title("Is BERT a cross-disciplinary knowledge learner?")
st.markdown(
    """
Kao & Lee (2021) fine-tuned **BERT, pretrained only on English text**, on sequences that are not English:
DNA, proteins and music. Each symbol (a base, an amino acid, a MIDI pitch) is mapped onto one BERT subword,
and the network is trained exactly as for a text task. What they found:

- **Pretrained beats scratch.** The text-pretrained BERT learns faster and generalises better than the same
  network trained from random weights (**rand**), on the DNA, protein and music tasks.
- **The embeddings matter.** Re-initialising only the word embeddings (**re-emb**) loses part of the gain,
  and mapping symbols onto BERT's never-trained `[unused]` tokens does worse than onto frequent words.
- **Text with scrambled ids shows it too.** English whose token ids are shifted, `T(i) = (i + c) mod D`,
  is still learned better by the pretrained model: what transfers is not the meaning of the words.
"""
)

st.subheader("See it for yourself")
st.markdown("One click trains the variants side by side on this machine; watch the loss curves live. **The whole "
            "room shares one demo**: pressing the button while a demo runs (or finished in the last half hour) "
            "opens that one instead of queueing another.")


def _start(name: str, fresh: bool) -> None:
    from disc_core.study.demo import start_demo

    try:
        with st.spinner("Queueing the runs ..."):
            launched = start_demo(name, fresh=fresh)
    except Exception as err:  # a broken install or an unwritable run folder: say what, not a traceback
        show_error(err)
        return
    st.session_state["runs-flash"] = (
        f"You started the demo **{launched.group}**." if launched.created else
        f"A demo with these settings was already running or had just finished, so you joined it "
        f"(**{launched.group}**) instead of queueing another. *Start a fresh one* on the Overview page queues a "
        "new one.")
    remember("group", launched.group)
    st.switch_page(PAGES["runs"], query_params={"group": launched.group})


available = available_demos()
for name, demo in DEMOS.items():
    if name not in available:
        st.caption(f"**Second demo, {demo.title}**: needs the STS-B data ({demo.available()[1]}). Download it on "
                   "the Datasets page (*The paper's*, `stsb`) and it appears here.")
        continue
    with st.container(border=True):
        st.markdown(f"**{demo.title[0].upper() + demo.title[1:]}.** {demo.what}")
        try:
            card = demo_card(name)
        except Exception as err:
            show_error(err)
            continue
        if card.group is None:
            st.markdown(card.text)
        else:  # a press joins this one: say so, not what a new one would cost
            st.info(card.text, icon=":material/groups:")
        st.caption(f"Speed: {card.estimate.speed.describe()}. {demo.note} {demo.measured}")
        a, b, c = st.columns([2, 2, 3])
        verb = "Join" if card.group else "Start"
        label = f"{verb} the demo comparison" if name == "splice" else f"{verb} the scrambled-text demo"
        if a.button(label, key="overview-demo" if name == "splice" else f"overview-demo-{name}", type="primary",
                    icon=":material/play_arrow:" if card.group is None else ":material/groups:"):
            _start(name, fresh=False)
        fresh_help = teacher_help("queue a new demo of these settings even though one is on (it waits behind it); "
                                  f"a new one: {card.estimate.describe()}")
        if card.group and b.button("Start a fresh one", key=f"overview-demo-fresh-{name}", icon=":material/add:",
                                   disabled=not is_teacher(), help=fresh_help):
            _start(name, fresh=True)
        if card.group:
            c.page_link(PAGES["runs"], label=f"Watch {card.group}", icon=":material/monitoring:",
                        query_params={"group": card.group})

st.subheader("Do it on your own data")
steps = [("datasets", "1. Pick a dataset, or upload your own"),
         ("mapping", "2. See how its symbols become BERT tokens"),
         ("train", "3. Launch a comparison of variants and seeds"), ("runs", "4. Watch the runs train, live"),
         ("results", "5. Compare the results with the paper's")]
for page, text in steps:
    st.page_link(PAGES[page], label=text)
