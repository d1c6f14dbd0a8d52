"""Background runs: each run in its own OS process, reporting through a diskcache run store.

``store`` (the run store and the runs root), ``runner`` (executors: launch, cancel, resume) and
``worker`` (the process, ``python -m disc_core.runs.worker RUN_ID``).

May import ``engine``, ``data``, ``errors`` and ``plots``; never ``study`` or ``cli``.
"""
