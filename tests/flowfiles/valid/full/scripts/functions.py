"""Python functions the full example imports."""


def read_group(wildcards, config):
    """The read group of one sample."""
    return f"@RG\\tID:{wildcards.sample}\\tSM:{config['samples'][wildcards['sample']]['depth']}"
