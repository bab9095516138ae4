"""Python functions the golden error cases import."""
SAMPLES = {"a": "raw/a.fq"}


def get_fastq(wildcards):
    return SAMPLES[wildcards.sample]


def lookup(name):
    return SAMPLES[name]


def groups():
    return {"a", "b"}
