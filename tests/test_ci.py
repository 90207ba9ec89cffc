"""`layerscope ci`: rules on a fake report, size strings, globs, config files and
their precedence, dive's .dive-ci as documented, renderers, and the real CLI
on the bundled sample image (exit codes 0/1/2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import layerscope
from layerscope import ci
from layerscope.analysis.ci import Growth
from layerscope.analysis.ci_config import DIVE_KEYS
from layerscope.errors import BadInputError, LayerscopeError
from layerscope.report import ci_out
from layerscope.report.json_out import dumps

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample.tar"

# dive's README example, unchanged (github.com/wagoodman/dive, README "CI Integration", MIT licence)
DIVE_README_CI = """\
rules:
  # If the efficiency is measured below X%, mark as failed.
  # Expressed as a ratio between 0-1.
  lowestEfficiency: 0.95

  # If the amount of wasted space is at least X or larger than X, mark as failed.
  # Expressed in B, KB, MB, and GB.
  highestWastedBytes: 20MB

  # If the amount of wasted space makes up for X% or more of the image, mark as failed.
  # Note: the base image layer is NOT included in the total image size.
  # Expressed as a ratio between 0-1; fails if the threshold is met or crossed.
  highestUserWastedPercent: 0.20
"""

# dive's own repository's .dive-ci (github.com/wagoodman/dive, MIT licence): the README's rules plus a
# `plugins:` list and a `plugin1/rule1:` section, keys dive reads past without a word
DIVE_REPO_CI = """\
plugins:
  - plugin1

""" + DIVE_README_CI + """
plugin1/rule1:
  # If the efficiency is measured below X%, mark as failed.
  # Expressed as a ratio between 0-1.
  lowestEfficiency: 0.95
"""


@dataclass
class FakeReport:
    size: int = 100_000_000
    compressed_size: int = 40_000_000
    layers: list = field(default_factory=lambda: [None] * 5)
    efficiency: float = 0.95
    wasted_bytes: int = 5_000_000
    user_wasted_ratio: float | None = 0.05
    dive_efficiency: float = 0.93
    dive_wasted_bytes: int = 6_000_000
    dive_user_wasted_ratio: float = 0.07
    files: list = field(default_factory=lambda: ["etc", "etc/passwd", "app", "app/main.py"])
    ref: str = "example/app:1"
    path: str = "app.tar"

    def paths(self):
        return iter(self.files)


def by_name(results) -> dict[str, ci.RuleResult]:
    return {r.name: r for r in results}


def one(rule: str, threshold, report=None, baseline=None, **kw) -> ci.RuleResult:
    rules = ci.Rules.from_mapping({rule: threshold, **kw})
    return by_name(ci.evaluate(report or FakeReport(), rules, baseline=baseline))[rule]


# --------------------------------------------------------------------------
# size strings: go-humanize's ParseBytes, as dive uses it
# --------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("20MB", 20_000_000),
    ("20mb", 20_000_000),
    ("20 MB", 20_000_000),
    (" 20MB ", 20_000_000),
    ("20M", 20_000_000),
    ("500kB", 500_000),
    ("500KB", 500_000),
    ("500k", 500_000),
    ("1KiB", 1024),
    ("1ki", 1024),
    ("1.5GiB", 1_610_612_736),
    ("1.5GB", 1_500_000_000),
    ("2TiB", 2 * 1024 ** 4),
    ("1PB", 10 ** 15),
    ("1EiB", 1024 ** 6),
    ("1,000", 1000),
    ("1,000 kB", 1_000_000),
    ("123", 123),
    ("123B", 123),
    ("1.5", 1),  # truncated to whole bytes, as dive does
    (".5kB", 500),
    ("0", 0),
    (0, 0),
    (20_000_000, 20_000_000),
    (1.9, 1),
])
def test_parse_size(text, expected):
    assert ci.parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "MB", "-1MB", "1XB", "1e3", "1.2.3MB", "1 M B", "1 MBs", "20 MiBi",
                                 True, None, -5, float("nan"), [], "1" * 30 + "EB"])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        ci.parse_size(bad)


# --------------------------------------------------------------------------
# globs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, path, expected", [
    # ** at the start: any depth, including none
    ("**/*.pem", "etc/ssl/private/key.pem", True),
    ("**/*.pem", "key.pem", True),
    ("**/*.pem", "/key.pem", True),
    ("**/*.pem", "etc/.hidden.pem", True),  # * matches dotfiles: a gate should find them
    ("**/*.pem", "etc/key.pem.bak", False),
    ("**/id_rsa", "id_rsa", True),
    ("**/id_rsa", "root/.ssh/id_rsa", True),
    ("**/id_rsa", "root/.ssh/id_rsa.pub", False),
    ("**/id_rsa", "root/.ssh/my_id_rsa", False),
    ("**/.env", "app/.env", True),
    ("**/.env", "app/.envrc", False),
    # ** in the middle: zero or more directories
    ("etc/**/*.pem", "etc/key.pem", True),
    ("etc/**/*.pem", "etc/ssl/private/key.pem", True),
    ("etc/**/*.pem", "usr/etc/key.pem", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/x/y/bc", False),
    ("usr/**/**/lib", "usr/lib", True),
    # ** at the end: the directory itself and everything below
    ("**/.git/**", "app/.git/config", True),
    ("**/.git/**", "app/.git/objects/ab/cdef", True),
    ("**/.git/**", ".git", True),
    ("**/.git/**", "app/.gitignore", False),
    ("**/.git/**", "app/x.git/config", False),
    ("etc/**", "etc", True),
    ("etc/**", "etc/a/b/c", True),
    ("etc/**", "etcetera/x", False),
    ("**", "any/path/at/all", True),
    # * and ? never cross "/"
    ("*.pem", "key.pem", True),
    ("*.pem", "etc/key.pem", False),
    ("etc/*.pem", "etc/ssl/key.pem", False),
    ("a/*/b", "a/x/b", True),
    ("a/*/b", "a/x/y/b", False),
    ("a/?/b", "a/x/b", True),
    ("a?b", "a/b", False),
    ("foo**bar", "fooxbar", True),  # ** inside a name is a plain *
    ("foo**bar", "foo/bar", False),
    # classes
    ("[!.]*", "etc", True),
    ("[!.]*", ".env", False),
    ("a[!x]b", "a/b", False),  # a negated class does not match "/"
    ("a[+-0]b", "a/b", False),  # nor a range that spans it
    ("a[+-0]b", "a-b", True),
    ("key[0-9].pem", "key7.pem", True),
    ("[", "[", True),  # unclosed bracket: literal
    ("a[b", "a[b", True),
    # leading "/" ignored, matching is case-sensitive and anchored
    ("/etc/shadow", "etc/shadow", True),
    ("/etc/shadow", "/etc/shadow", True),
    ("etc/shadow", "etc/shadow-", False),
    ("etc/shadow", "x/etc/shadow", False),
    ("*.PEM", "key.pem", False),
    ("a.b", "axb", False),  # "." is literal
    ("a+(b)", "a+(b)", True),
])
def test_glob_match(pattern, path, expected):
    assert ci.glob_match(pattern, path) is expected


@pytest.mark.parametrize("bad", ["", "/", "//", "[z-a]"])
def test_glob_rejects(bad):
    with pytest.raises(ValueError):
        ci.compile_glob(bad)


# --------------------------------------------------------------------------
# rules on a fake report
# --------------------------------------------------------------------------

@pytest.mark.parametrize("rule, passing, failing, value", [
    ("lowest_efficiency", 0.9, 0.96, 0.95),
    ("highest_wasted_bytes", "10MB", "4MB", 5_000_000),
    ("highest_user_wasted_percent", 0.1, 0.01, 0.05),
    ("max_image_size", "100MB", "99MB", 100_000_000),
    ("max_layers", 5, 4, 5),
])
def test_threshold_rules_pass_fail_disabled(rule, passing, failing, value):
    ok = one(rule, passing)
    assert (ok.status, ok.value) == ("PASS", value), ok
    bad = one(rule, failing)
    assert (bad.status, bad.value) == ("FAIL", value), bad
    assert bad.message and "\n" not in bad.message
    off = one(rule, "disabled")
    assert (off.status, off.value, off.message) == ("SKIP", None, "disabled")
    unset = by_name(ci.evaluate(FakeReport(), ci.Rules.from_mapping({})))[rule]
    assert (unset.status, unset.message) == ("SKIP", "not configured")


def test_boundaries_follow_dive_equal_passes():
    # dive: efficiency fails when threshold > efficiency; bytes and user ratio when value > threshold
    assert one("lowest_efficiency", 0.95).status == "PASS"
    assert one("highest_wasted_bytes", 5_000_000).status == "PASS"
    assert one("highest_wasted_bytes", 4_999_999).status == "FAIL"
    assert one("highest_user_wasted_percent", 0.05).status == "PASS"
    assert one("max_layers", 5).status == "PASS"
    assert one("max_image_size", 100_000_000).status == "PASS"


def test_messages_read_as_comparisons():
    assert one("lowest_efficiency", 0.9).message == "0.9500 >= 0.9"
    assert one("lowest_efficiency", 0.96).message == "0.9500 < 0.96"
    assert one("lowest_efficiency", 0.9, FakeReport(efficiency=0.89999)).message == "0.89999 < 0.9"
    assert one("max_layers", 4).message == "5 > 4"
    assert one("highest_wasted_bytes", "20MB").message == "5.0 MB <= 20.0 MB"
    # rounding would print "5.0 MB > 5.0 MB": bytes instead
    assert one("highest_wasted_bytes", 4_999_999).message == "5,000,000 B > 4,999,999 B"
    assert one("highest_user_wasted_percent", "2%").message.startswith("5.00% > 2%")


def test_ratios_accept_percent_strings_and_reject_out_of_range():
    assert ci.Rules.from_mapping({"lowest_efficiency": "95%"}).lowest_efficiency == pytest.approx(0.95)
    assert ci.Rules.from_mapping({"highestUserWastedPercent": "0.2"}).highest_user_wasted_percent == 0.2
    for bad in (1.5, -0.1, "abc", True, "nan"):
        with pytest.raises(BadInputError, match="lowest_efficiency"):
            ci.Rules.from_mapping({"lowest_efficiency": bad})


def test_disabled_spellings_follow_dive():
    for off in ("disabled", "DISABLED", "off", "false", "", False, None):
        assert ci.Rules.from_mapping({"max_layers": off}).disabled == {"max_layers"}
    with pytest.raises(BadInputError):
        ci.Rules.from_mapping({"max_layers": True})


def test_user_wasted_ratio_none_is_skipped_with_reason():
    r = one("highest_user_wasted_percent", 0.1, FakeReport(user_wasted_ratio=None))
    assert r.status == "SKIP" and "base" in r.message


def test_dive_metrics_read_dives_figures():
    rules = ci.Rules.from_mapping({"lowest_efficiency": 0.94, "highest_wasted_bytes": "5.5MB",
                                   "highest_user_wasted_percent": 0.06, "metrics": "dive"})
    res = by_name(ci.evaluate(FakeReport(), rules))
    assert (res["lowest_efficiency"].status, res["lowest_efficiency"].value) == ("FAIL", 0.93)
    assert (res["highest_wasted_bytes"].status, res["highest_wasted_bytes"].value) == ("FAIL", 6_000_000)
    assert (res["highest_user_wasted_percent"].status, res["highest_user_wasted_percent"].value) == ("FAIL", 0.07)
    assert "dive" in res["lowest_efficiency"].message
    own = by_name(ci.evaluate(FakeReport(), ci.Rules.from_mapping({"lowest_efficiency": 0.94})))
    assert own["lowest_efficiency"].status == "PASS"


def test_dive_user_ratio_falls_back_to_report_waste():
    class WasteOnly:
        dive_user_wasted_ratio = 0.5

    class Report:
        waste = WasteOnly()

    rules = ci.Rules.from_mapping({"highest_user_wasted_percent": 0.1, "metrics": "dive"})
    assert by_name(ci.evaluate(Report(), rules))["highest_user_wasted_percent"].status == "FAIL"


def test_missing_report_field_is_a_clear_error_not_a_skip():
    class Bare:
        size = 1
        layers = ()

    with pytest.raises(LayerscopeError, match="efficiency"):
        ci.evaluate(Bare(), ci.Rules.from_mapping({"lowest_efficiency": 0.9}))
    # rules that need nothing missing still evaluate
    assert ci.overall(ci.evaluate(Bare(), ci.Rules.from_mapping({"max_layers": 1}))) == "PASS"


def test_nan_efficiency_fails():
    assert one("lowest_efficiency", 0.5, FakeReport(efficiency=float("nan"))).status == "FAIL"


def test_forbid_paths():
    files = ["etc", "etc/ssl", "etc/ssl/private", "etc/ssl/private/key.pem", "app", "app/.git", "app/.git/config",
             "app/.env", "root/.ssh/id_rsa", "app/main.py", "srv/a.pem", "srv/b.pem", "srv/c.pem"]
    report = FakeReport(files=files)
    patterns = ["**/*.pem", "**/.git/**", "**/id_rsa", "/**/.env"]
    r = one("forbid_paths", patterns, report)
    assert r.status == "FAIL" and r.value == 8 and r.threshold == patterns
    # the first few, sorted, each with the pattern it matched; the rest counted
    assert r.message.startswith("8 forbidden paths: /app/.env (/**/.env), /app/.git (**/.git/**)")
    assert r.message.endswith("and 3 more")
    ok = one("forbid_paths", ["**/*.key", "**/.git/**"])
    assert (ok.status, ok.value) == ("PASS", 0)
    assert one("forbid_paths", []).status == "SKIP"
    assert one("forbid_paths", "**/passwd").status == "FAIL"  # one pattern as a string
    with pytest.raises(BadInputError, match="forbid_paths"):
        ci.Rules.from_mapping({"forbid_paths": ["[z-a]"]})
    with pytest.raises(BadInputError, match="forbid_paths"):
        ci.Rules.from_mapping({"forbid_paths": [1]})


def test_forbid_paths_escapes_odd_names_onto_one_line():
    r = one("forbid_paths", ["**/*.pem"], FakeReport(files=["a\nb.pem", "x\udcffy.pem"]))
    assert r.status == "FAIL" and "\n" not in r.message
    assert "/a\\x0ab.pem" in r.message and "/x\\xffy.pem" in r.message


@pytest.mark.parametrize("setting, parsed", [
    ("10%", Growth(ratio=0.1)), (0.1, Growth(ratio=0.1)), ("0.1", Growth(ratio=0.1)),
    ("150%", Growth(ratio=1.5)), ("20MB", Growth(bytes=20_000_000)), (1000, Growth(bytes=1000)),
    ("+5MiB", Growth(bytes=5 * 1024 ** 2)),
])
def test_max_growth_settings(setting, parsed):
    assert ci.Rules.from_mapping({"max_growth": setting}).max_growth == parsed


def test_max_growth():
    base = FakeReport(size=90_000_000)
    r = one("max_growth", "10%", baseline=base)  # +10,000,000 > 9,000,000
    assert (r.status, r.value, r.threshold) == ("FAIL", 10_000_000, 9_000_000)
    assert "+11.1%" in r.message
    assert one("max_growth", "12%", baseline=base).status == "PASS"
    assert one("max_growth", "10MB", baseline=base).status == "PASS"  # equal passes
    assert one("max_growth", "9.9MB", baseline=base).status == "FAIL"
    shrink = one("max_growth", 0, baseline=FakeReport(size=120_000_000))
    assert (shrink.status, shrink.value) == ("PASS", -20_000_000)
    assert one("max_growth", 0, baseline=100_000_000).status == "PASS"  # a size in bytes will do
    skip = one("max_growth", "10%")
    assert (skip.status, skip.message) == ("SKIP", "no --baseline")
    for bad in ("-10%", "ten", True, [1]):
        with pytest.raises(BadInputError, match="max_growth"):
            ci.Rules.from_mapping({"max_growth": bad})


def test_results_cover_every_rule_in_order():
    res = ci.evaluate(FakeReport(), ci.Rules.from_mapping({"max_layers": 10}))
    assert [r.name for r in res] == list(ci.RULE_NAMES)
    assert ci.overall(res) == "PASS"


def test_from_mapping_rejects_unknown_and_duplicate_keys():
    with pytest.raises(BadInputError, match="unknown key 'max_layer'") as e:
        ci.Rules.from_mapping({"max_layer": 3}, source="x.toml")
    assert str(e.value).startswith("x.toml: ")
    with pytest.raises(BadInputError, match="same rule"):
        ci.Rules.from_mapping({"lowestEfficiency": 0.9, "lowest_efficiency": 0.8})
    with pytest.raises(BadInputError, match="metrics"):
        ci.Rules.from_mapping({"metrics": "docker"})


def test_public_api():
    assert layerscope.ci.evaluate is ci.evaluate  # `import layerscope.ci` makes it an attribute
    assert ci.Rules.from_mapping({"lowestEfficiency": 0.9}).lowest_efficiency == 0.9
    d = ci.Rules.dive_defaults()
    assert (d.lowest_efficiency, d.highest_wasted_bytes, d.highest_user_wasted_percent) == (0.9, None, 0.1)
    assert "highest_wasted_bytes" in d.disabled and d.metrics == "dive"


# --------------------------------------------------------------------------
# config files and precedence
# --------------------------------------------------------------------------

def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text)
    return p


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match="no CI rules found"):
        ci.load_rules()
    assert ci.load_rules(dive_defaults=True).metrics == "dive"

    write(tmp_path, ".dive-ci", "rules:\n  lowestEfficiency: 0.5\n")
    r = ci.load_rules()
    assert (r.source, r.lowest_efficiency, r.metrics) == (".dive-ci", 0.5, "dive")

    write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.layerscope.ci]: skipped
    assert ci.load_rules().source == ".dive-ci"
    write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n[tool.layerscope.ci]\nmax_layers = 7\n")
    r = ci.load_rules()
    assert (r.max_layers, r.lowest_efficiency, r.metrics) == (7, None, "layerscope")
    assert r.source.startswith("pyproject.toml")

    write(tmp_path, ".layerscope.toml", "[waste]\ntop = 5\n")  # no CI rules in it: skipped
    assert ci.load_rules().max_layers == 7
    write(tmp_path, ".layerscope.toml", "[ci]\nmax_layers = 3\n[waste]\ntop = 5\n")
    assert ci.load_rules().max_layers == 3
    write(tmp_path, ".layerscope.toml", "max_layers = 4\nforbid_paths = ['**/*.pem']\n")  # top-level keys
    r = ci.load_rules(dive_defaults=True)  # a file found: dive's defaults do not apply
    assert (r.max_layers, r.forbid_paths, r.lowest_efficiency) == (4, ("**/*.pem",), None)

    other = write(tmp_path, "gates.toml", "[ci]\nmax_layers = 9\n")
    assert ci.load_rules(other).max_layers == 9  # --config beats everything
    assert ci.load_rules("gates.toml").max_layers == 9


def test_cwd_argument(tmp_path):
    write(tmp_path, ".layerscope.toml", "[ci]\nmax_layers = 2\n")
    assert ci.load_rules(cwd=tmp_path).max_layers == 2
    write(tmp_path, "r.toml", "max_layers = 6\n")
    assert ci.load_rules("r.toml", cwd=tmp_path).max_layers == 6


def test_config_kind_by_name_then_content(tmp_path):
    yaml_named = write(tmp_path, "gates", "rules:\n  highestWastedBytes: 1MB\n")
    r = ci.load_rules(yaml_named)
    assert (r.highest_wasted_bytes, r.metrics) == (1_000_000, "dive")
    toml_named = write(tmp_path, "gates2", "[ci]\nhighest_wasted_bytes = '1MB'\n")
    assert ci.load_rules(toml_named).metrics == "layerscope"
    assert ci.load_rules(write(tmp_path, "ci.yaml", "rules:\n  max_layers: 3\n")).max_layers == 3
    assert ci.load_rules(write(tmp_path, ".dive-ci.yml", "rules: {}\n")).lowest_efficiency == 0.9


def test_dive_readme_example_works_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, ".dive-ci", DIVE_README_CI)
    rules = ci.load_rules()
    assert rules.lowest_efficiency == 0.95
    assert rules.highest_wasted_bytes == 20_000_000  # "20MB": powers of 1000, as go-humanize parses it
    assert rules.highest_user_wasted_percent == 0.20
    assert rules.metrics == "dive" and rules.source == ".dive-ci"

    good = FakeReport(dive_efficiency=0.95, dive_wasted_bytes=20_000_000, dive_user_wasted_ratio=0.20)
    assert [r.status for r in ci.evaluate(good, rules)][:3] == ["PASS", "PASS", "PASS"]  # equal passes (dive's code)
    bad = FakeReport(dive_efficiency=0.9499, dive_wasted_bytes=20_000_001, dive_user_wasted_ratio=0.2001)
    assert [r.status for r in ci.evaluate(bad, rules)][:3] == ["FAIL", "FAIL", "FAIL"]


def test_dive_ci_missing_keys_keep_dives_defaults(tmp_path):
    r = ci.load_rules(write(tmp_path, ".dive-ci", "rules:\n  highestWastedBytes: 50MB\n"))
    assert (r.lowest_efficiency, r.highest_wasted_bytes, r.highest_user_wasted_percent) == (0.9, 50_000_000, 0.1)
    r = ci.load_rules(write(tmp_path, ".dive-ci", "rules:\n  lowestEfficiency: disabled\n"
                                                  "  highestUserWastedPercent: off\n"))
    assert r.lowest_efficiency is None and r.highest_user_wasted_percent is None
    assert r.disabled == {"lowest_efficiency", "highest_wasted_bytes", "highest_user_wasted_percent"}
    r = ci.load_rules(write(tmp_path, ".dive-ci", ""))  # empty file: dive's defaults
    assert (r.lowest_efficiency, r.highest_user_wasted_percent) == (0.9, 0.1)
    r = ci.load_rules(write(tmp_path, ".dive-ci", "rules:\n  max_layers: 4\n  forbid_paths: ['**/.env']\n"
                                                  "  metrics: layerscope\n"))
    assert (r.max_layers, r.forbid_paths, r.metrics, r.lowest_efficiency) == (4, ("**/.env",), "layerscope", 0.9)


@pytest.mark.parametrize("name, text, message", [
    (".layerscope.toml", "[ci]\nmax_layer = 3\n", r"\.layerscope\.toml: unknown key 'max_layer'"),
    (".layerscope.toml", "colour = 'red'\n", r"\.layerscope\.toml: unknown key 'colour'"),
    (".layerscope.toml", "max_layers = 3\n[ci]\nmax_image_size = 1\n", "outside the \\[ci\\] table"),
    (".layerscope.toml", "[ci\nmax_layers = 3\n", r"\.layerscope\.toml: not valid TOML: .*line 1"),
    (".layerscope.toml", "[ci]\nmax_layers = 'many'\n", "max_layers: expected a whole number"),
    (".layerscope.toml", "ci = 3\n", "must be a table"),
    ("pyproject.toml", "[tool.layerscope.ci]\nlowest_efficency = 0.9\n", "pyproject.toml.*unknown key 'lowest_efficency'"),
    ("pyproject.toml", "[tool.layerscope\n", "pyproject.toml: not valid TOML"),
    (".dive-ci", "rules:\n  lowestEfficiency: 0.9\n  LowestEfficiency: 0.8\n", "'lowestEfficiency' is set twice"),
    (".dive-ci", "rules:\n  lowestEfficiency: 0.9\nRules:\n  lowestEfficiency: 0.8\n", "'rules' and 'Rules'"),
    (".dive-ci", "rules: 3\n", "CI rules must be a mapping"),
    (".dive-ci", "rules:\n  lowestEfficiency: [0.9\n", r"\.dive-ci: not valid YAML: .*line"),
    (".dive-ci", "rules:\n\tlowestEfficiency: 0.9\n", r"\.dive-ci: not valid YAML"),
    (".dive-ci", "- a\n- b\n", "expected a mapping"),
    (".dive-ci", "rules:\n  highestWastedBytes: 20XB\n", "highestWastedBytes: unknown size unit 'XB'"),
    (".dive-ci", "rules:\n  lowestEfficiency: 1.5\n", "outside the allowed range"),
])
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, monkeypatch, name, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, name, text)
    with pytest.raises(BadInputError, match=message) as e:
        ci.load_rules()
    assert "\n" not in str(e.value) and e.value.exit_code == 2


def test_dive_repo_ci_file_is_read_as_dive_reads_it(tmp_path):
    """Keys dive ignores (its own .dive-ci's `plugins:` and `plugin1/rule1:`) are ignored, one warning each."""
    rules = ci.load_rules(write(tmp_path, ".dive-ci", DIVE_REPO_CI))
    assert (rules.lowest_efficiency, rules.highest_wasted_bytes, rules.highest_user_wasted_percent) == \
        (0.95, 20_000_000, 0.20)
    assert rules.warnings == ("ignoring key 'plugins' (dive ignores it too; only 'rules' is read)",
                              "ignoring key 'plugin1/rule1' (dive ignores it too; only 'rules' is read)")
    assert ci.load_rules(write(tmp_path, ".dive-ci", DIVE_README_CI)).warnings == ()


def test_dive_ci_unknown_rule_keys_are_ignored_with_a_hint(tmp_path):
    """dive ignores a misspelt rule (it keeps its default): so does layerscope, loudly."""
    r = ci.load_rules(write(tmp_path, ".dive-ci", "rules:\n  lowestEfficiency: 0.5\n  highestWastedByte: 1MB\n"))
    assert r.lowest_efficiency == 0.5 and "highest_wasted_bytes" in r.disabled  # dive's default: disabled
    assert r.warnings == ("ignoring unknown rule key 'rules.highestWastedByte' "
                          "(dive ignores it too; did you mean 'highestWastedBytes'?)",)
    r = ci.load_rules(write(tmp_path, ".dive-ci", "rule:\n  lowestEfficiency: 0.5\n"))
    assert r.lowest_efficiency == 0.9  # no `rules`: dive's defaults, as dive does
    assert r.warnings == ("ignoring key 'rule' (dive ignores it too; only 'rules' is read)",)


def test_dive_ci_keys_match_in_any_case_as_in_dive(tmp_path):
    r = ci.load_rules(write(tmp_path, ".dive-ci", "Rules:\n  LOWESTEFFICIENCY: 0.5\n  highestuserwastedpercent: 0.3\n"))
    assert (r.lowest_efficiency, r.highest_user_wasted_percent, r.warnings) == (0.5, 0.3, ())


@pytest.mark.parametrize("name, text", [
    (".layerscope.toml", "[ci]\nmax_layers = 3\nplugins = ['plugin1']\n"),
    ("pyproject.toml", "[tool.layerscope.ci]\nmax_layers = 3\nplugins = ['plugin1']\n"),
])
def test_layerscope_configs_stay_strict(tmp_path, name, text):
    with pytest.raises(BadInputError, match="plugins"):
        ci.load_rules(write(tmp_path, name, text))


def test_explicit_config_errors(tmp_path):
    with pytest.raises(BadInputError, match="nope.toml: no such config file"):
        ci.load_rules(tmp_path / "nope.toml")
    with pytest.raises(BadInputError, match="no \\[tool.layerscope.ci\\] table"):
        ci.load_rules(write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n"))
    with pytest.raises(BadInputError, match="no CI rules"):
        ci.load_rules(write(tmp_path, "empty.toml", "[waste]\ntop = 1\n"))
    with pytest.raises(BadInputError, match="directory"):
        ci.load_rules(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe[")
    with pytest.raises(BadInputError, match="UTF-8"):
        ci.load_rules(binary)
    big = tmp_path / "big.toml"
    big.write_text("# x\n" * 300_000)
    with pytest.raises(BadInputError, match="too large"):
        ci.load_rules(big)


# --------------------------------------------------------------------------
# renderers
# --------------------------------------------------------------------------

def rendered(files=("etc", "app/key.pem", "a|b.pem", "ctl\x01.pem")):
    rules = ci.Rules.from_mapping({"lowest_efficiency": 0.9, "max_layers": 4, "forbid_paths": ["**/*.pem"],
                                   "highest_wasted_bytes": "disabled", "max_growth": "10%"}, source="t.toml")
    report = FakeReport(files=list(files))
    return report, rules, ci.evaluate(report, rules)


def test_text_lines_and_summary():
    report, rules, results = rendered()
    text = ci_out.ci_text(report, rules, results)
    lines = text.splitlines()
    assert "PASS  lowest_efficiency: 0.9500 >= 0.9" in lines
    assert "FAIL  max_layers: 5 > 4" in lines
    assert "SKIP  highest_wasted_bytes: disabled" in lines
    assert "SKIP  max_growth: no --baseline" in lines
    assert lines[-1] == "Result: FAIL (2 of 7 rules failed, 4 skipped)"
    assert sum(line[:4] in ("PASS", "FAIL", "SKIP") for line in lines) == 7


def test_json_document():
    report, rules, results = rendered()
    doc = json.loads(dumps(ci_out.ci_doc(report, rules, results), pretty=False))
    assert doc["schema"] == "layerscope.ci/1" and doc["result"] == "FAIL"
    assert doc["image"]["ref"] == "example/app:1" and doc["image"]["layers"] == 5
    assert [r["name"] for r in doc["rules"]] == list(ci.RULE_NAMES)
    assert all(set(r) == {"name", "status", "value", "threshold", "message"} for r in doc["rules"])
    fp = next(r for r in doc["rules"] if r["name"] == "forbid_paths")
    assert (fp["status"], fp["value"], fp["threshold"]) == ("FAIL", 3, ["**/*.pem"])


def test_junit_parses_with_right_counts():
    report, rules, results = rendered()
    root = ET.fromstring(ci_out.ci_junit(report, rules, results).encode("utf-8"))
    suite = root.find("testsuite")
    assert root.tag == "testsuites"
    for el in (root, suite):
        assert (el.get("tests"), el.get("failures"), el.get("skipped"), el.get("errors")) == ("7", "2", "4", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(ci.RULE_NAMES)
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"max_layers", "forbid_paths"}
    assert failed["max_layers"].get("message") == "5 > 4"
    assert "\\x01" in failed["forbid_paths"].get("message")  # a control character escaped, XML still valid
    assert {c.get("name") for c in cases if c.find("skipped") is not None} == {
        "highest_wasted_bytes", "highest_user_wasted_percent", "max_image_size", "max_growth"}


def test_markdown_has_a_row_per_rule():
    report, rules, results = rendered()
    md = ci_out.ci_markdown(report, rules, results)
    assert md.startswith("### layerscope ci: ❌ FAIL")
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == list(ci.RULE_NAMES)
    for row in rows:  # "|" inside a cell is escaped: every row has exactly 5 cells
        cells = row.replace("\\|", "").split("|")
        assert len(cells) == 7, row
    assert "a\\|b.pem" in md


# --------------------------------------------------------------------------
# the real CLI on examples/sample.tar
# --------------------------------------------------------------------------

PASSING = """\
[ci]
lowest_efficiency = 0.3
highest_wasted_bytes = "1MB"
highest_user_wasted_percent = 0.9
max_image_size = "1MB"
max_layers = 3
forbid_paths = ["**/*.pem", "**/.git/**", "**/id_rsa", "**/.env"]
max_growth = "10%"
"""


def test_cli_exit_0_when_every_rule_passes(ls, tmp_path):
    write(tmp_path, ".layerscope.toml", PASSING)
    res = ls("ci", SAMPLE, "--baseline", SAMPLE, cwd=tmp_path)
    assert res.rc == 0, res.out + res.err
    lines = res.out.splitlines()
    assert sum(line.startswith("PASS  ") for line in lines) == 7
    assert lines[-1] == "Result: PASS (7 of 7 rules passed)"
    assert any(line.startswith("PASS  max_growth: +0 B") for line in lines)


def test_cli_exit_1_when_a_rule_fails(ls, tmp_path):
    write(tmp_path, ".layerscope.toml", PASSING.replace("max_layers = 3", "max_layers = 2")
          .replace('"**/.env"]', '"**/.env", "/usr/bin/*"]'))
    res = ls("ci", SAMPLE, cwd=tmp_path)
    assert res.rc == 1, res.err
    assert "FAIL  max_layers: 3 > 2" in res.out
    assert "FAIL  forbid_paths: 3 forbidden paths: /usr/bin/busybox (/usr/bin/*)" in res.out
    assert "SKIP  max_growth: no --baseline" in res.out
    assert res.out.splitlines()[-1] == "Result: FAIL (2 of 7 rules failed, 1 skipped)"


def test_cli_efficiency_rule_fails(ls, tmp_path):
    write(tmp_path, "strict.toml", "[ci]\nlowest_efficiency = 0.99\n")
    res = ls("ci", SAMPLE, "--config", tmp_path / "strict.toml", cwd=tmp_path)
    assert res.rc == 1 and "FAIL  lowest_efficiency: " in res.out


def test_cli_dive_readme_example_and_dive_defaults(ls, tmp_path):
    write(tmp_path, ".dive-ci", DIVE_README_CI)
    res = ls("ci", SAMPLE, "--json", cwd=tmp_path)
    assert res.rc == 1, res.err
    doc = json.loads(res.out)
    rules = {r["name"]: r for r in doc["rules"]}
    assert doc["config"] == {"source": ".dive-ci", "metrics": "dive"}
    assert rules["lowest_efficiency"]["status"] == "FAIL"  # sample: dive's efficiency ~0.86 < 0.95
    assert rules["lowest_efficiency"]["value"] == pytest.approx(layerscope.inspect(str(SAMPLE)).dive_efficiency)
    assert rules["highest_wasted_bytes"]["status"] == "PASS"  # 48 kB <= 20MB
    assert rules["highest_wasted_bytes"]["threshold"] == 20_000_000

    write(tmp_path, ".dive-ci", "rules:\n  lowestEfficiency: 0.5\n  highestUserWastedPercent: 0.9\n")
    assert ls("ci", SAMPLE, cwd=tmp_path).rc == 0

    empty = tmp_path / "empty"
    empty.mkdir()
    assert ls("ci", SAMPLE, cwd=empty).rc == 2
    res = ls("ci", SAMPLE, "--dive-defaults", cwd=empty)
    assert res.rc == 1 and "FAIL  lowest_efficiency" in res.out and "SKIP  highest_wasted_bytes: disabled" in res.out


def test_cli_dive_repo_ci_with_ci_config_as_dive_spells_it(ls, tmp_path):
    cfg = write(tmp_path, "dive-ci.yaml", DIVE_REPO_CI)
    res = ls("ci", SAMPLE, "--ci-config", cfg, cwd=tmp_path)
    assert res.rc == 1, res.err  # dive's verdict on the sample: efficiency and user waste fail
    assert res.err_lines == [f"layerscope: warning: {cfg}: ignoring key 'plugins' (dive ignores it too; only 'rules' is read)",
                             f"layerscope: warning: {cfg}: ignoring key 'plugin1/rule1' (dive ignores it too; "
                             "only 'rules' is read)"]
    assert res.out == ls("ci", SAMPLE, "--config", cfg, cwd=tmp_path).out
    assert "FAIL  lowest_efficiency: 0.8609 < 0.95" in res.out


@pytest.mark.interop
def test_dive_accepts_the_same_file_and_gives_the_same_verdict(ls, dive_exe, tmp_path):
    """`CI=true dive --ci-config FILE IMAGE` on dive's own .dive-ci: dive takes it
    as layerscope does, with the same PASS/FAIL per rule and the same exit code."""
    import os
    import re
    import subprocess

    cfg = write(tmp_path, ".dive-ci", DIVE_REPO_CI)
    p = subprocess.run([dive_exe, "--ci-config", str(cfg), "--source", "docker-archive", str(SAMPLE)],
                       env={**os.environ, "CI": "true"}, cwd=tmp_path, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout + p.stderr)
    theirs = {m.group(2): m.group(1) for m in re.finditer(r"^\s*(PASS|FAIL|SKIP): (\w+)", text, re.M)}
    assert theirs == {"lowestEfficiency": "FAIL", "highestWastedBytes": "PASS",
                      "highestUserWastedPercent": "FAIL"}, text
    res = ls("ci", SAMPLE, "--ci-config", cfg, "--json", cwd=tmp_path)
    ours = {r["name"]: r["status"] for r in json.loads(res.out)["rules"]}
    assert {k: ours[DIVE_KEYS[k]] for k in theirs} == theirs
    assert res.rc == p.returncode == 1, text


def test_cli_base_layers_reaches_the_user_ratio(ls, tmp_path):
    write(tmp_path, ".layerscope.toml", "[ci]\nhighest_user_wasted_percent = 0.01\n")
    assert ls("ci", SAMPLE, cwd=tmp_path).rc == 1
    res = ls("ci", SAMPLE, "--base-layers", "3", cwd=tmp_path)  # every layer is base: nothing user-wasted
    assert res.rc == 0, res.out + res.err


def test_cli_json_junit_markdown_together(ls, tmp_path):
    write(tmp_path, ".layerscope.toml", PASSING.replace("max_layers = 3", "max_layers = 1"))
    res = ls("ci", SAMPLE, "--json", "--junit", "out.xml", "--markdown", "summary.md", cwd=tmp_path)
    assert res.rc == 1, res.err
    doc = json.loads(res.out)
    assert doc["schema"] == "layerscope.ci/1" and doc["result"] == "FAIL"
    assert doc["image"]["size"] == 157696 and doc["image"]["layers"] == 3
    root = ET.parse(tmp_path / "out.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("7", "1", "1")
    md = (tmp_path / "summary.md").read_text()
    assert sum(line.startswith("| `") for line in md.splitlines()) == 7
    # text still goes to stdout when --json is not given
    res = ls("ci", SAMPLE, "--junit", "out2.xml", cwd=tmp_path)
    assert res.out.splitlines()[-1].startswith("Result: FAIL") and (tmp_path / "out2.xml").exists()
    assert not (tmp_path / "out2.md").exists()


@pytest.mark.parametrize("config, args, message", [
    ("[ci]\nmax_layer = 3\n", [], ".layerscope.toml: unknown key 'max_layer'"),
    ("[ci\n", [], ".layerscope.toml: not valid TOML"),
    ("[ci]\nmax_layers = 3\n", ["--config", "missing.toml"], "missing.toml: no such config file"),
    ("[ci]\nmax_layers = 3\n", ["--junit", "no/such/dir/out.xml"], "no/such/dir/out.xml: cannot write the --junit file"),
    ("[ci]\nmax_layers = 3\n", ["--markdown", "."], ".: cannot write the --markdown file"),
])
def test_cli_exit_2_bad_input_one_line(ls, tmp_path, config, args, message):
    write(tmp_path, ".layerscope.toml", config)
    res = ls("ci", SAMPLE, *args, cwd=tmp_path)
    assert res.rc == 2, res.out + res.err
    assert len(res.err_lines) == 1 and message in res.err, res.err


@pytest.mark.parametrize("config", ["[ci]\nmax_layers = 3\n", "[ci]\nmax_growth = '10%'\n"])
@pytest.mark.parametrize("baseline", ["missing.tar", "garbage.tar"])
def test_cli_bad_baseline_exit_2(ls, tmp_path, config, baseline):
    """A baseline that was given is read even when no rule uses it: a typo must not pass a gate."""
    write(tmp_path, ".layerscope.toml", config)
    write(tmp_path, "garbage.tar", "not an image at all\n" * 100)
    res = ls("ci", SAMPLE, "--baseline", baseline, cwd=tmp_path)
    assert res.rc == 2, res.out + res.err
    assert len(res.err_lines) == 1 and baseline in res.err, res.err


def test_cli_bad_image_exit_2(ls, tmp_path):
    write(tmp_path, ".layerscope.toml", "[ci]\nmax_layers = 3\n")
    res = ls("ci", tmp_path / "nope.tar", cwd=tmp_path)
    assert res.rc == 2 and len(res.err_lines) == 1
