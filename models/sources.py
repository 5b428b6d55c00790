"""The sources the scenario's defaults cite, named once: documents by their titles."""

from __future__ import annotations

#: the council's options appraisal behind the default authority
SEED_TITLE = "Placements Commissioning Strategy: discussion paper and options appraisal"
SEED_SHORT = "Placements Commissioning Strategy (options appraisal)"
NATIONAL = "DfE, Children looked after in England 2024 (SSDA903)"
OFSTED = "Ofsted, Fostering in England 2022-23"
ASSUMED = "assumption, to be calibrated"
