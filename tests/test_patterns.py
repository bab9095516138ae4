"""fileflow.patterns: `{wildcard}` patterns -> regex, match, format, expand."""
from __future__ import annotations

import pytest

from fileflow.patterns import PatternError, expand, parse_pattern, regex_problem


def test_constant_pattern_has_no_wildcards():
    p = parse_pattern("results/summary.json")
    assert p.is_constant and p.wildcards == ()
    assert p.match("results/summary.json") == {}
    assert p.match("results/summary_json") is None  # the '.' is literal, not "any character"


def test_wildcards_in_order_of_first_appearance():
    p = parse_pattern("{sample}/{lane}/{sample}.bam")
    assert p.wildcards == ("sample", "lane")
    assert p.match("a/1/a.bam") == {"sample": "a", "lane": "1"}
    assert p.match("a/1/b.bam") is None  # a repeated wildcard must take the same value


def test_default_regex_matches_slashes_and_is_greedy_per_field():
    p = parse_pattern("out/{name}.txt")
    assert p.match("out/x/y.txt") == {"name": "x/y"}
    assert p.match("out/.txt") is None  # a wildcard matches at least one character


def test_inline_regex_and_constraints():
    p = parse_pattern("out/{k,[0-9]+}.txt")
    assert p.wildcards == ("k",)
    assert p.match("out/12.txt") == {"k": "12"}
    assert p.match("out/x.txt") is None
    q = parse_pattern("{sample}.fq")
    assert q.match("a/b.fq", {"sample": "[a-z]+"}) is None
    assert q.match("ab.fq", {"sample": "[a-z]+"}) == {"sample": "ab"}
    # the inline regex beats a constraint
    assert p.match("out/7.txt", {"k": "[a-z]+"}) == {"k": "7"}


def test_inline_regex_may_hold_braces():
    p = parse_pattern("{year,\\d{4}}-{rest}")
    assert p.match("2024-x") == {"year": "2024", "rest": "x"}
    assert p.match("24-x") is None


def test_double_braces_are_literal():
    p = parse_pattern("a{{b}}/{x}")
    assert p.wildcards == ("x",)
    assert p.format({"x": "1"}) == "a{b}/1"
    assert p.match("a{b}/1") == {"x": "1"}


def test_format_fills_values_and_reports_missing():
    p = parse_pattern("{a}/{b,[0-9]+}.txt")
    assert p.format({"a": "x", "b": 3}) == "x/3.txt"
    with pytest.raises(KeyError):
        p.format({"a": "x"})
    assert p.format({"a": "x"}, allow_missing=True) == "x/{b,[0-9]+}.txt"


def test_literal_prefix():
    assert parse_pattern("data/raw/{s}.fq").literal_prefix == "data/raw/"
    assert parse_pattern("{s}.fq").literal_prefix == ""


@pytest.mark.parametrize("text, message", [
    ("{a", "unclosed '{'"),
    ("a}", "single '}'"),
    ("{1a}", "bad wildcard name '1a'"),
    ("{}", "bad wildcard name ''"),
    ("{a,[z}", "bad regex for wildcard 'a'"),
    ("{a,(?P<b>x)}", "named groups are not allowed"),
])
def test_malformed_patterns(text, message):
    with pytest.raises(PatternError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_pattern(text)


def test_regex_problem():
    assert regex_problem("[a-z]+") == ""
    assert "unterminated" in regex_problem("[a-z")
    assert "named groups" in regex_problem("(?P<x>a)")


def test_expand_is_a_product_in_order():
    assert expand("{a}-{b}", {"a": ["x", "y"], "b": [1, 2]}) == ["x-1", "x-2", "y-1", "y-2"]
    assert expand(["{a}.1", "{a}.2"], {"a": ["x", "y"]}) == ["x.1", "y.1", "x.2", "y.2"]
    assert expand("{a}", {"a": "scalar"}) == ["scalar"]


def test_expand_zip_pairs_values():
    assert expand("{a}-{b}", {"a": ["x", "y"], "b": [1, 2]}, zip_values=True) == ["x-1", "y-2"]
    with pytest.raises(PatternError, match="same length"):
        expand("{a}-{b}", {"a": ["x", "y"], "b": [1]}, zip_values=True)


def test_expand_allow_missing_keeps_the_field():
    assert expand("{a}/{b}", {"a": ["x"]}, allow_missing=True) == ["x/{b}"]
    with pytest.raises(PatternError, match="no value for wildcard {b}"):
        expand("{a}/{b}", {"a": ["x"]})
