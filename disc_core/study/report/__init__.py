"""The reproduction report: tables beside the paper's numbers, ordering tests, figures, hardware, commands.

:func:`write_report` reads the run folders a :class:`~disc_core.study.reproduce.Plan` wrote under ``root``
(nothing is re-run) and writes a Markdown file, its PNG figures and a results file beside it;
:func:`study_tables` gives the same tables as DataFrames (for the dashboard). One module per concept:

- :mod:`.cells`: reading the cells (results rescored to the headline metric, curves) and naming every cell
  that cannot be read, so that one damaged file never stops a report
- :mod:`.verdicts`: the paper's orderings tested on paired seeds, and each study's tables
- :mod:`.tables`: the tables of a run folder root or of a results file
- :mod:`.export`: the results file beside a report (the dashboard's published numbers), and back
- :mod:`.figures`: every matplotlib figure the report links to
- :mod:`.hardware`: what ran the report, and where each cell ran
- :mod:`.findings`: plain sentences computed from the tables
- :mod:`.sections`, :mod:`.writer`: the Markdown
- :mod:`.prose`: this study's own prose and history, read from ``docs/report-discussion.md``
"""

from .cells import CellProblem, pretrain_step_results, unreadable_cells
from .export import (LOSS_GAP_NOTE, LOSS_GAP_TITLE, RESULTS_FORMAT, export_results, load_results, published_info,
                     training_loss_table)
from .figures import loss_curve_figure, pretrain_steps_figure, signal_figure
from .findings import findings
from .hardware import hardware
from .tables import study_tables
from .verdicts import (PAPER_GAP, PAPER_GAP_NOTE, PAPER_GAP_VERDICT, ordering_table, paper_gap_verdict,
                       tables_from_results, verdict)
from .round2 import best_lr_tables_of
from .writer import write_report

__all__ = ["write_report", "study_tables", "tables_from_results", "export_results", "load_results", "published_info",
           "RESULTS_FORMAT", "PAPER_GAP", "PAPER_GAP_VERDICT", "PAPER_GAP_NOTE", "paper_gap_verdict",
           "training_loss_table", "LOSS_GAP_TITLE", "LOSS_GAP_NOTE", "ordering_table", "loss_curve_figure",
           "pretrain_steps_figure", "signal_figure", "pretrain_step_results", "hardware", "verdict", "findings",
           "unreadable_cells", "CellProblem", "best_lr_tables_of"]
