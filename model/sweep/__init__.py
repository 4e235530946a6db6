"""Runs any model class over an experiment: the experiment schema and its loader, designs, run ids
and seeds, executors (inline, process pool, Dask), the task loop with resume and adaptive
replications, the sweep-folder store and its manifest, and ``replicate``. Imports ``model.core``."""
