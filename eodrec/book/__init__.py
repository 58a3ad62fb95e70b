"""The book layer: what turns stored results into the pages of the Jupyter Book.

``tables`` computes each paper artefact's cells beside the paper's (one module per table or
figure), ``interactive`` draws the plotly figures, ``notebook`` and ``results`` are what every
page calls around them, ``build`` executes and renders the pages and ``serve`` serves the built
book with a local kernel. Nothing here trains a model except the smoke profile's on-the-spot
runs in :mod:`eodrec.book.results`.
"""
