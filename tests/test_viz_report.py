"""End to end: `fileflow report -o report.html`: one self-contained page, checked
as text and in a real headless Chromium (no console errors, no request leaves the file,
the expected job count, a working filter, a screenshot)."""
from __future__ import annotations

import re
import struct
import zlib

import pytest
from buildkit import Project
from chromium import Chromium, chromium_path
from conftest import need_service

FLOW = """
    rule all:
        input: "summary.txt"
    rule count:
        input: "in/{s}.txt"
        output: "counts/{s}.n"
        shell: ("if [ {wildcards.s} = bad ]; then echo 'cannot count <bad> & stop' >&2; exit 7; fi; "
                "wc -c < {input} > {output}")
    rule summary:
        input: expand("counts/{s}.n", s=["a", "b", "c", "bad"])
        output: "summary.txt"
        shell: "cat {input} > {output}"
    """


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> tuple[Project, str]:
    """A run with 3 jobs done and 1 failed (-k), and its report."""
    p = Project(tmp_path_factory.mktemp("report"))
    p.flowfile(FLOW)
    for s in ("a", "b", "c", "bad"):
        p.write(f"in/{s}.txt", s * 10)
    r = p.run("-k", "-j", "2")
    assert r.code == 1, r
    out = p.run("report", "-o", "report.html", log=False)
    assert out.code == 0, out
    assert out.out == "" and "wrote report.html (run 1, 4 jobs)" in out.err
    return p, p.read("report.html")


def test_the_report_is_one_self_contained_file(reported):
    p, html = reported
    assert html.startswith("<!DOCTYPE html>")
    # nothing to fetch: no links, no sources, no URLs at all
    assert not re.search(r"<link|<img|<iframe|\bsrc=|https?://|@import|url\((?!#)", html)
    assert '<b id="job-count">4</b> jobs' in html
    assert html.count('<g class="job" ') == 4
    assert "cannot count &lt;bad&gt; &amp; stop" in html     # the failed job's log tail, escaped
    assert {"all", "count", "summary"} >= set(re.findall(r'<g class="rule" data-rule="(\w+)"', html))
    for path in ("counts/a.n", "counts/b.n", "counts/c.n"):
        assert f"<td>{path}</td>" in html


def _png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    data, pos = b"", 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            data += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(data)
    return width, height, len(set(raw[i:i + 3] for i in range(1, min(len(raw), 400_000), 4)))


def test_the_report_in_chromium(reported, tmp_path):
    need_service(chromium_path() is not None, "Chromium (the Debian chromium package)")
    p, _ = reported
    url = p.path("report.html").resolve().as_uri()
    with Chromium(str(tmp_path / "profile")) as browser:
        page = browser.open(url)
        assert page.evaluate("document.body.getAttribute('data-ready')") == "1"
        assert page.problems == []
        assert all(u.startswith(("file:", "data:", "about:")) for u in page.requests), page.requests
        assert page.evaluate("document.getElementById('job-count').textContent") == "4"
        assert page.evaluate("document.querySelectorAll('#timeline g.job').length") == 4
        assert page.evaluate("document.querySelectorAll('#timeline rect.bar').length") == 4
        rules = page.evaluate("Array.from(document.querySelectorAll('#rule-graph g.rule'))"
                              ".map(g => g.getAttribute('data-rule')).sort().join(',')")
        assert rules == "all,count,summary"
        failures = page.evaluate("document.getElementById('failures').innerText")
        assert "count[s=bad]" in failures and "cannot count <bad> & stop" in failures
        # the filter hides timeline rows as one types
        page.evaluate("var f = document.getElementById('filter'); f.value = 'bad';"
                      "f.dispatchEvent(new Event('input'))")
        assert page.evaluate("document.getElementById('shown-count').textContent") == "1"
        # sorting the outputs table by size puts the largest last
        page.evaluate("document.querySelectorAll('#outputs-table th')[3].click()")
        sizes = page.evaluate("Array.from(document.querySelectorAll('#outputs-table tbody tr'))"
                              ".map(r => r.cells[3].getAttribute('data-v'))")
        assert sizes == sorted(sizes, key=float)
        assert page.problems == []


def test_a_screenshot_of_the_report(reported, tmp_path):
    need_service(chromium_path() is not None, "Chromium (the Debian chromium package)")
    p, _ = reported
    with Chromium(str(tmp_path / "profile")) as browser:
        page = browser.open(p.path("report.html").resolve().as_uri(), width=1200, height=900)
        png = page.screenshot()
        assert page.problems == []
    (tmp_path / "report.png").write_bytes(png)
    width, height, colours = _png_size_and_colours(png)
    assert (width, height) == (1200, 900)
    assert colours > 20          # drawn: header, graph, bars (a blank page has one or two)


def test_report_without_a_flowfile_or_a_run_log(reported, tmp_path):
    p, _ = reported
    elsewhere = Project(tmp_path / "empty")
    r = elsewhere.run("report", log=False)
    assert r.code == 2 and "no runs recorded yet" in r.err
    assert not elsewhere.exists("report.html") and not elsewhere.exists(".fileflow")
    # the run log is there but the Flowfile is not: the page says why it has no graph
    p.path("Flowfile").rename(p.path("Flowfile.away"))
    try:
        r = p.run("report", "1", "-o", "nograph.html", log=False)
    finally:
        p.path("Flowfile.away").rename(p.path("Flowfile"))
    assert r.code == 0, r
    html = p.read("nograph.html")
    assert "no Flowfile here, so no rule graph" in html and html.count('<g class="job" ') == 4
    bad = p.run("report", "7", log=False)
    assert bad.code == 2 and "no run 7" in bad.err
