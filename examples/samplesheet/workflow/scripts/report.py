"""Write the final Markdown report: a table of the groups and their samples' totals.

Run by fileflow for `rule report` (`script:`); `job` describes the job.
"""
from fileflow.script import job


def rows(path):
    with open(path, encoding="utf-8") as fh:
        lines = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    return lines[1:]


paths = job.input.groups
paths = [paths] if isinstance(paths, str) else list(paths)
with open(job.output[0], "w", encoding="utf-8") as out:
    out.write(f"# {job.params.title}\n\n")
    out.write("| group | sample | reads | bases |\n|---|---|---|---|\n")
    for group, path in zip(job.params.groups, paths):
        for sample, reads, bases in rows(path):
            out.write(f"| {group} | {sample} | {reads} | {bases} |\n")
    out.write(f"\n{job.params.n_units} sequencing units in {len(job.params.groups)} groups.\n")
with open(job.log[0], "w", encoding="utf-8") as log:
    log.write(f"report of {len(paths)} groups written to {job.output[0]}\n")
