"""Cut an adapter (and what follows it) from each read of a FASTQ file and drop reads that
end up shorter than a minimum length.

usage: trim.py --adapter SEQ --min-length N IN.fq OUT.fq  (a summary line goes to stderr)
"""
import argparse
import sys


def reads(path):
    with open(path, encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    for i in range(0, len(lines), 4):
        yield lines[i:i + 4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--min-length", type=int, required=True)
    ap.add_argument("fastq_in")
    ap.add_argument("fastq_out")
    args = ap.parse_args()
    kept = cut = total = 0
    with open(args.fastq_out, "w", encoding="utf-8") as out:
        for name, seq, plus, qual in reads(args.fastq_in):
            total += 1
            at = seq.find(args.adapter)
            if at >= 0:
                seq, qual = seq[:at], qual[:at]
                cut += 1
            if len(seq) >= args.min_length:
                out.write(f"{name}\n{seq}\n{plus}\n{qual}\n")
                kept += 1
    print(f"{args.fastq_in}: {total} reads, adapter cut from {cut}, {kept} kept", file=sys.stderr)


main()
