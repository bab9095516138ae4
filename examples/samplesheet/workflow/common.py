"""Helper functions of the sample-sheet example, imported by the Flowfile with
`from "workflow/common.py" import ...` and called per job (with `wildcards`).

The sheets are passed in as arguments (rows are plain dicts), so the Flowfile reads them with
table(): fileflow then watches the sheet files and reruns the jobs an edited row changes.
"""


def get_fastq(wildcards, units):
    """The raw FASTQ file of one sequencing unit of a sample."""
    for row in units:
        if row["sample"] == wildcards.sample and row["unit"] == wildcards.unit:
            return row["fq"]
    raise KeyError(f"no unit {wildcards.unit!r} of sample {wildcards.sample!r} in the unit sheet")


def units_of(sample, units):
    """The unit names of a sample, in sheet order."""
    return [row["unit"] for row in units if row["sample"] == sample]


def read_group(wildcards, samples, config):
    """A SAM-style read group line for a sample: its id, sample name, platform and condition."""
    row = samples[wildcards.sample]
    return (f"@RG\\tID:{wildcards.sample}\\tSM:{wildcards.sample}"
            f"\\tPL:{config['platform']}\\tDS:{row['condition']}")
