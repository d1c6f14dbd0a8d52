"""The paper's studies, built from runs: ``compare`` (variants x seeds, paired tests), ``reproduce``
(the paper's tables as resumable plans), ``pretrain`` (small-BERT MLM pre-training), ``report``,
``paper`` (the paper's published numbers) and ``demo`` (the dashboard's demo comparison).

May import ``runs``, ``engine``, ``data``, ``errors`` and ``plots``; never ``cli``.
"""
