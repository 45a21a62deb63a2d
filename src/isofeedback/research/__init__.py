"""What researchers run on recorded and foreign data: replay, batch and metrics.

The same pipeline as a live session, fed from files: :mod:`.replay` runs one recording
(native ``.isorec``, CSV, EDF/BDF) and can check it reproduces the live run exactly,
:mod:`.batch` runs a corpus in a local process pool or on a Dask cluster, :mod:`.metrics`
turns a replay into one flat row of a summary table. Printing stays in the commands.
"""
