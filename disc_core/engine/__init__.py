"""The experiment engine: everything one fine-tuning run needs.

``config`` (RunConfig), ``models`` (model references), ``mapping`` (symbol -> token, text shifts),
``variants`` (pretrained / rand / re-emb / unused), ``encoding``, ``training`` (the loop), ``metrics``,
``events`` (what the loop emits; listeners log it) and ``experiment`` (a run folder from a config).

May import ``disc_core.data``, ``errors`` and ``plots``; never ``runs``, ``study`` or ``cli``.
"""
