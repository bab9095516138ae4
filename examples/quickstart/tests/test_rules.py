"""Unit tests of the quickstart's rules: each runs one job on its own, with inputs written
here, through fileflow's pytest plugin (docs/testing.md). From the repository root:

    python -m pytest examples/quickstart/tests
"""
from pathlib import Path

from fileflow.testing import assert_same_json, assert_same_text

FLOWFILE = Path(__file__).resolve().parent.parent / "Flowfile"


def test_count_words_counts_every_word_and_keeps_the_most_frequent(fileflow_job):
    result = fileflow_job(FLOWFILE, "count_words[sample=demo]",
                          inputs={"text": "The cat saw the dog.\nThe end\n"},
                          config={"top_words": 2})
    assert_same_text(result["counts"], """
      3 the
      1 cat
      1 dog
      1 end
      1 saw
    """.strip("\n"))
    assert_same_text(result["top"], "      3 the\n      1 cat\n")


def test_summary_gathers_every_sample(fileflow_job):
    counts = {"a": "      2 x\n      1 y\n", "b": "      4 z\n"}
    inputs = {f"results/{kind}/{sample}.txt": text
              for sample, text in counts.items() for kind in ("counts", "top")}
    result = fileflow_job(FLOWFILE, "summary", inputs=inputs,
                          config={"samples": ["a", "b"], "title": "two samples"})
    assert_same_json(result["results/summary.json"], {
        "title": "two samples",
        "samples": {
            "a": {"words": 3, "distinct_words": 2, "top_words": {"x": 2, "y": 1}},
            "b": {"words": 4, "distinct_words": 1, "top_words": {"z": 4}},
        },
        "total_words": 7,
    })
