"""Overview: what the paper found, and one button that starts the demo comparison."""

import streamlit as st

from disc_core.study.demo import DEMO_DATASET, DEMO_NOTE, DEMO_VARIANTS, demo_configs
from ui.common import PAGES, remember, require_app, run_store, show_error

require_app()

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
st.markdown(f"Fine-tune **{', '.join(DEMO_VARIANTS)}** on the built-in `{DEMO_DATASET}` data "
            "(offline, a few minutes on a laptop CPU), and watch the loss curves side by side.")
st.caption(DEMO_NOTE)
if st.button("Start the demo comparison", key="overview-demo", type="primary", icon=":material/play_arrow:"):
    try:
        from disc_core.runs.runner import launch_group

        configs = demo_configs()
        with st.spinner("Queueing the runs ..."):
            launch_group(configs)
    except Exception as err:  # a broken install or an unwritable run folder: say what, not a traceback
        show_error(err)
    else:
        remember("group", configs[0].group)
        st.switch_page(PAGES["runs"], query_params={"group": configs[0].group})

try:
    demos = [g for g in run_store().groups() if str(g).startswith("demo-")]
except Exception:
    demos = []
if demos:  # groups() lists the newest first
    st.page_link(PAGES["runs"], label=f"Watch the latest demo ({demos[0]})", icon=":material/monitoring:",
                 query_params={"group": demos[0]})

st.subheader("Do it on your own data")
steps = [("datasets", "1. Pick a dataset, or upload your own"),
         ("mapping", "2. See how its symbols become BERT tokens"),
         ("train", "3. Launch a comparison of variants and seeds"), ("runs", "4. Watch the runs train, live"),
         ("results", "5. Compare the results with the paper's")]
for page, text in steps:
    st.page_link(PAGES[page], label=text)
