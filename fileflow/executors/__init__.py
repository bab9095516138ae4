"""Executors run JobSpecs (local processes, Slurm, DRMAA). They never see the job graph."""
