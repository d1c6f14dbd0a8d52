"""Background runs: each run in its own OS process, reporting through a diskcache run store.

``store`` (the run store and the runs root), ``runner`` (launch, cancel, resume; the local executor),
``ray_executor`` (runs and plan cells as Ray tasks, the store service actor that is the store's writer for
them), ``worker`` (the process, ``python -m disc_core.runs.worker RUN_ID``, or a Ray task) and ``queue``.

May import ``engine``, ``data``, ``errors`` and ``plots``; never ``study`` or ``cli``.
"""
