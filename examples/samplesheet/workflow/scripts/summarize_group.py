"""Sum the per-sample counts of one group into a TSV: one line per sample, then the total.

Run by fileflow for `rule group_summary` (`script:`); `job` describes the job.
"""
from fileflow.script import job


def read_metrics(path):
    with open(path, encoding="utf-8") as fh:
        return dict(line.rstrip("\n").split("\t", 1) for line in fh if line.strip())


paths = job.input.counts
paths = [paths] if isinstance(paths, str) else list(paths)
total_reads = total_bases = 0
with open(job.output[0], "w", encoding="utf-8") as out:
    out.write("sample\treads\tbases\n")
    for sample, path in zip(job.params.samples, paths):
        metrics = read_metrics(path)
        reads, bases = int(metrics["reads"]), int(metrics["bases"])
        total_reads += reads
        total_bases += bases
        out.write(f"{sample}\t{reads}\t{bases}\n")
    out.write(f"total\t{total_reads}\t{total_bases}\n")
with open(job.log[0], "w", encoding="utf-8") as log:
    log.write(f"group {job.wildcards.group}: {len(paths)} samples, {total_reads} reads\n")
