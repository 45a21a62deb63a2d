"""What researchers run on recorded and foreign data: replay, batch, metrics, evaluation.

The same pipeline as a live session, fed from files: :mod:`.replay` runs one recording
(native ``.isorec``, CSV, EDF/BDF) and can check it reproduces the live run exactly,
:mod:`.batch` runs a corpus in a local process pool or on a Dask cluster, :mod:`.metrics`
turns a replay into one flat row of a summary table, :mod:`.eval` measures the detectors
on labelled data. Printing stays in the commands.
"""
