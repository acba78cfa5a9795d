"""Reporting (SOP_RULES §4, §6, §9): KPIs computed in SQL, the detection rules of the period statistics, the
dashboard's tables and exports, the periodic report flows, CAPA, quarterly themes and satisfaction surveys.
Plugs into the engine at start-up (``init_app``)."""
from __future__ import annotations

from ..engine import hooks
from . import capa, reports


def init_app(app) -> None:
    registered = hooks(app)
    registered.after_completing((capa.PROCESS,), capa.after_capa_step)  # FLOW-14: the CAPA row follows its flow
    registered.after_completing(reports.PROCESSES, reports.after_report_step)  # §4.2/§4.4 periodic reports
