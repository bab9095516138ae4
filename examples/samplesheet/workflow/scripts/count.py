"""Count the reads and bases of a sample's merged FASTQ file and the frequency of each base.

usage: count.py --read-group RG IN.fq OUT.tsv  (OUT is a two-column TSV: metric, value)
"""
import argparse
from collections import Counter


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--read-group", required=True)
    ap.add_argument("fastq")
    ap.add_argument("out")
    args = ap.parse_args()
    with open(args.fastq, encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    seqs = lines[1::4]
    bases = Counter("".join(seqs))
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(f"read_group\t{args.read_group}\n")
        out.write(f"reads\t{len(seqs)}\n")
        out.write(f"bases\t{sum(bases.values())}\n")
        for base in "ACGT":
            out.write(f"{base}\t{bases.get(base, 0)}\n")


main()
