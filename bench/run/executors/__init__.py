"""Executors: where a grid's cells run.

Without one, `bench run` runs them in its own process (bench.run.runner). ``--executor local`` starts
one worker per device of this machine, ``--executor slurm`` submits a SLURM job array; both through
submitit, each worker or array task an ``ArrayTask`` running its cells through the ordinary runner into
the shared results directory, so claims make every cell run once wherever it runs, records are written
whole, and a rerun resumes.
"""
