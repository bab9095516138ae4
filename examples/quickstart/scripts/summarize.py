"""Summarise the per-sample word counts in one JSON file.

Run by fileflow for `rule summary` (`script: "scripts/summarize.py"`); `job` describes the
job: its input, output, log, params (see docs/language.md, "Scripts").
"""
import json

from fileflow.script import job


def read_counts(path):
    """The 'count word' lines written by `uniq -c`, as {word: count}, in file order."""
    counts = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            count, _, word = line.strip().partition(" ")
            if word:
                counts[word] = int(count)
    return counts


def as_list(value):
    """`job.input.NAME` is one path when the name holds one file, else a list of paths."""
    return [value] if isinstance(value, str) else list(value)


samples = {}
for sample, counts_path, top_path in zip(job.params.samples, as_list(job.input.counts),
                                         as_list(job.input.top)):
    counts = read_counts(counts_path)
    samples[sample] = {
        "words": sum(counts.values()),
        "distinct_words": len(counts),
        "top_words": read_counts(top_path),
    }

summary = {
    "title": job.params.title,
    "samples": samples,
    "total_words": sum(s["words"] for s in samples.values()),
}
with open(job.output[0], "w", encoding="utf-8") as fh:
    json.dump(summary, fh, indent=2)
    fh.write("\n")

with open(job.log[0], "w", encoding="utf-8") as log:
    print(f"rule {job.rule}: summarised {len(samples)} samples into {job.output[0]}", file=log)
