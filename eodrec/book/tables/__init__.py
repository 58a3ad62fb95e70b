"""The paper's tables and figures recomputed from stored results, one module per artefact.

Each module turns result dicts into a long frame, one row per cell, with the paper's value,
ours and the difference (:mod:`~eodrec.book.tables.compare`), so that a page can show every
cell, filter the ones that differ and attach the reason found for each.
"""
