"""The command line, ``python -m disc_core COMMAND``: ``main`` (the parser, ``datasets``, ``models``),
``data`` (``download``), ``mapping``, ``experiment`` (``run``, ``compare``), ``runs`` and ``reproduce``.

The top layer: may import every other package of ``disc_core``; nothing imports it.
"""
