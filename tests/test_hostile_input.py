"""Input files are data: each defect found by feeding tfcanary hostile-but-realistic files, pinned.

Results are small hand-built files (test_report.write_results), mutated field by field: they
exercise the readers, they are not observations of TensorFlow.  Commands run in-process through
``tfcanary.cli.main`` (the exit status and stderr a CI sees); one runs as a subprocess to show
that no traceback reaches stderr.  The contract: 0 clean, 1 a finding, 2 usage or unusable input
(named), 3 an internal error; nothing written outside the folders named.
"""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tfcanary import cli, results
from tfcanary.envs import cache as envcache
from tfcanary.envs import install as envs
from tfcanary.reports import check, toolkit

from conftest import ROOT
from test_check import run_dir  # noqa: F401 -- the fixture: results with their snapshots
from test_report import write_results


def mutated(folder, mutate, label="tf2.21"):
    """A results folder whose ``label`` file went through ``mutate(doc)``."""
    write_results(folder)
    path = folder / f"{label}.json"
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    return folder


def tree(root):
    """Every path under ``root`` with its content (files) or kind: what a command may not change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                out[p] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[p] = f.read()
            else:
                out[p] = "dir" if os.path.isdir(p) else "special"
    return out


def main(capsys, *args):
    rc = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return rc, out, err


def table_rows_keep_their_columns(markdown):
    """Every row of every Markdown table has its header's number of cells (cells split at
    pipes no backslash escapes, as GitHub splits them, inside code spans too)."""
    count = 0
    header = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        if header is None:
            header = cells
        assert cells == header, line
        count += 1
    return count


# --- 1. nothing written outside the folders named ------------------------------------------

def test_a_label_with_path_segments_is_refused_and_check_update_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = mutated(tmp_path / "deep" / "er" / "results", lambda d: d.update(label="../../escape/pwned"))
    before = tree(tmp_path)
    rc, _, err = main(capsys, "check", "--results", res, "--snapshots", tmp_path / "deep" / "er" / "snaps", "--update")
    assert rc == 2
    assert "tf2.21.json: label: expected an environment label" in err and "'../../escape/pwned'" in err
    assert tree(tmp_path) == before


def test_a_label_starting_with_a_slash_cannot_move_the_upgrade_report(tmp_path, capsys):
    res = mutated(tmp_path / "results", lambda d: d.update(label="/../../../tmp/upgrade-x"))
    before = tree(tmp_path)
    rc, _, err = main(capsys, "upgrade", "tf2.15", "/../../../tmp/upgrade-x", "--results", res,
                      "--out", tmp_path / "reports")
    assert rc == 2 and "label: expected an environment label" in err
    assert tree(tmp_path) == before


def test_a_recorded_snapshot_folder_outside_the_working_directory_is_not_written(tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    corpus = {"paths": ["cases"], "snapshots": "../outside/snapshots", "with": []}
    res = write_results(work / "results")
    for label in ("tf2.15", "tf2.21"):
        p = res / f"{label}.json"
        p.write_text(json.dumps({**json.loads(p.read_text()), "corpus": corpus}))
    before = tree(tmp_path)
    rc, _, err = main(capsys, "check", "--results", res, "--update")
    assert rc == 2 and "name the folder to write with --snapshots DIR" in err
    assert "'../outside/snapshots'" in err
    assert tree(tmp_path) == before
    # Named on the command line, the same folder is written: the user chose it.
    rc, _, _ = main(capsys, "check", "--results", res, "--update", "--snapshots", tmp_path / "outside" / "snapshots")
    assert rc == 0 and (tmp_path / "outside" / "snapshots" / "tf2.21.json").is_file()
    # Recorded as the results folder itself, it would overwrite the results: refused too.
    for label in ("tf2.15", "tf2.21"):
        p = res / f"{label}.json"
        p.write_text(json.dumps({**json.loads(p.read_text()), "corpus": {**corpus, "snapshots": "results"}}))
    before = tree(tmp_path)
    rc, _, err = main(capsys, "check", "--results", res, "--update")
    assert rc == 2 and "'results', a folder of the results being read" in err
    assert tree(tmp_path) == before
    # Recorded inside the working directory, it is written without asking.
    for label in ("tf2.15", "tf2.21"):
        p = res / f"{label}.json"
        p.write_text(json.dumps({**json.loads(p.read_text()), "corpus": {**corpus, "snapshots": "cases/snapshots"}}))
    rc, _, _ = main(capsys, "check", "--results", res, "--update")
    assert rc == 0 and (work / "cases" / "snapshots" / "tf2.15.json").is_file()


def test_file_names_made_from_data_stay_in_their_folder(tmp_path):
    assert results.file_in(tmp_path, "tf2.15.json") == tmp_path / "tf2.15.json"
    for bad in ("../x.json", "a/b.json", "..", "", "x\\y", "x\x00"):
        with pytest.raises(results.InputError, match="Expected a plain file name"):
            results.file_in(tmp_path, bad)


# --- 2. unusable input is exit 2 with the file named, never a traceback -------------------

@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["outcomes"][0].pop("status"), "outcomes[0].status: expected one of ok, error"),
    (lambda d: d["outcomes"][0].update(status="fine"), "Received: 'fine'"),
    (lambda d: d.update(outcomes={"a": 1}), "outcomes: expected a list"),
    (lambda d: d.update(outcomes=["x"]), "outcomes[0]: expected an object"),
    (lambda d: d["metadata"].update(date="last tuesday"), "metadata.date: expected an ISO date"),
    (lambda d: d["metadata"].update(date="0001-01-01T00:00:00+05:00"), "metadata.date: expected an ISO date"),
    (lambda d: d["outcomes"].append(dict(d["outcomes"][0])), "expected one outcome per (case, variant, mode)"),
    (lambda d: d["outcomes"][0].update(case="/etc/passwd"), "not an absolute path"),
    (lambda d: d["outcomes"][0].update(mode="graph/x"), "a mode of lowercase letters"),
    (lambda d: d["outcomes"][0].update(duration_s="slow"), "a number of seconds"),
    (lambda d: d["outcomes"][0].update(surprise=1), "only the fields"),
    (lambda d: d["cases"][0].update(tags="a"), "cases[0].tags: expected a list of text"),
    (lambda d: d.update(metadata=[1]), "metadata: expected an object"),
    (lambda d: d.update(status="done"), "status: expected one of ok, install-failed, probe-failed"),
])
@pytest.mark.parametrize("command", ["report", "upgrade", "check", "summary"])
def test_a_mutated_results_file_is_named_with_what_is_wrong(tmp_path, capsys, mutate, expected, command):
    res = mutated(tmp_path / "results", mutate)
    args = {"report": ["report", res, "--out", tmp_path / "r"],
            "upgrade": ["upgrade", "tf2.15", "tf2.21", "--results", res, "--out", tmp_path / "r"],
            "check": ["check", "--results", res, "--snapshots", tmp_path / "s", "--update"],
            "summary": ["summary", res]}[command]
    rc, _, err = main(capsys, *args)
    assert rc == 2
    assert f"{res / 'tf2.21.json'}: not a usable results file:" in err and expected in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["outcomes"].update({"alpha/broken": {"status": "ok"}}), "expected a key case/variant/mode"),
    (lambda d: d.update(outcomes=[["alpha/broken/eager", {"status": "ok"}]]), "outcomes: expected an object"),
    (lambda d: d["outcomes"].update({"alpha/broken/eager": {"status": "okay"}}), "status: expected one of ok"),
    (lambda d: d["outcomes"].update({"alpha/broken/eager": "ok"}), "expected an object"),
    (lambda d: d["outcomes"].update({"../../x/broken/eager": {"status": "ok"}}), "'..' path segment"),
    (lambda d: d.update(env="../tf2.15"), "env: expected an environment label"),
])
def test_a_hand_edited_snapshot_is_named_with_what_is_wrong(run_dir, capsys, edit, expected):
    res, snaps = run_dir
    p = snaps / "tf2.15.json"
    doc = json.loads(p.read_text())
    edit(doc)
    p.write_text(json.dumps(doc))
    rc, _, err = main(capsys, "check", "--results", res, "--snapshots", snaps)
    assert rc == 2 and f"{p}: not a usable snapshot" in err and expected in err


def test_snapshot_keys_split_at_their_last_two_slashes_so_node_ids_survive(tmp_path):
    node = "tests/test_layers.py::TestA::test_b[x/y]"
    assert check.split_key(f"{node}/broken/script") == (node, "broken", "script")
    doc = {"schema": 1, "env": "tf2.15", "outcomes": {f"{node}/broken/script": {"status": "ok"}}}
    assert check.snapshot_problems(doc) == []
    assert check.snapshot_frame(doc).iloc[0]["case"] == node


def test_a_file_in_the_snapshot_folder_not_named_by_a_label_is_named(run_dir, capsys):
    res, snaps = run_dir
    (snaps / "notes.json").write_text("{}")
    rc, _, err = main(capsys, "check", "--results", res, "--snapshots", snaps)
    assert rc == 2 and "notes.json: the file name: expected an environment label" in err


def test_a_malformed_bisection_file_is_named_before_anything_is_reported(tmp_path, capsys):
    res = write_results(tmp_path / "results")
    (res / "bisect").mkdir()
    (res / "bisect" / "tf2.15--tf2.21.json").write_text(json.dumps(
        {"schema": 1, "kind": "bisect", "a": {"name": "tf2.15"}, "b": {"name": "tf2.21"},
         "transitions": [{"case": "alpha", "variant": "broken", "mode": "graph", "state": 5}]}))
    rc, _, err = main(capsys, "report", res, "--out", tmp_path / "r")
    assert rc == 2 and "tf2.15--tf2.21.json: not a usable bisection file: transitions[0].state: expected text" in err
    (res / "bisect" / "tf2.15--tf2.21.json").write_text('{"schema": 1, "kind": "bisect", "transitions": {}}')
    rc, _, err = main(capsys, "upgrade", "tf2.15", "tf2.21", "--results", res, "--out", tmp_path / "r")
    assert rc == 2 and "transitions: expected a list" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name, content, expected", [
    ("s.csv", "env,case\ntf2.15,alpha\n", "without ['ratio_graph'"),
    ("s.csv", "env,case,ratio_graph,ratio_graph_lo,ratio_graph_hi,ratio_xla,ratio_xla_lo,ratio_xla_hi\n"
              "tf2.15,alpha,fast,1,1,1,1,1\n", "row 1: ratio_graph: expected a number. Received: 'fast'"),
    ("s.csv", "env,case,ratio_graph,ratio_graph_lo,ratio_graph_hi,ratio_xla,ratio_xla_lo,ratio_xla_hi\n"
              "tf2.15,alpha,inf,1,1,1,1,1\n", "ratio_graph: expected a number"),
    ("s.csv", "env,case,ratio_graph,ratio_graph_lo,ratio_graph_hi,ratio_xla,ratio_xla_lo,ratio_xla_hi\n"
              "../x,alpha,1,1,1,1,1,1\n", "row 1: expected an environment label"),
    ("s.csv", '"unterminated\n', "Expected a speedups file, CSV"),
    ("s.json", '{"env": [', "Expected a speedups file, JSON records"),
    ("s.json", "[1, 2]", "without ['env'"),
    ("s.csv", b"\xff\xfe", "not UTF-8"),
])
def test_a_malformed_speedups_file_is_named(tmp_path, capsys, name, content, expected):
    res = write_results(tmp_path / "results")
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    rc, _, err = main(capsys, "report", res, "--out", tmp_path / "r", "--speedups", p)
    assert rc == 2 and expected in err and str(p) in err


def test_special_files_in_a_results_folder_are_named_and_folders_so_named_skipped(tmp_path, capsys):
    res = write_results(tmp_path / "results")
    (res / "old.json").mkdir()                              # a folder named *.json: not a results file
    rc, _, _ = main(capsys, "report", res, "--out", tmp_path / "r")
    assert rc == 0
    (res / "loop.json").symlink_to(res / "loop.json")      # a link loop
    (res / "latin1.json").write_bytes(b'{"label": "tf2.15\xe9"}')
    rc, _, err = main(capsys, "report", res, "--out", tmp_path / "r2")
    assert rc == 2
    assert "loop.json: cannot be read (Too many levels of symbolic links)" in err
    assert "latin1.json: expected a results file in UTF-8" in err
    assert not (tmp_path / "r2").exists()


def test_a_fifo_named_like_a_results_file_is_refused_without_waiting_for_a_writer(tmp_path):
    res = write_results(tmp_path / "results")
    os.mkfifo(res / "x.json")
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "summary", str(res)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 2, proc.stderr
    assert "x.json: expected a results file, a regular file. Received: a FIFO" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unusable_input_reaches_stderr_as_one_message_and_exit_2_not_a_traceback(tmp_path):
    res = mutated(tmp_path / "results", lambda d: d["outcomes"][0].update(status=None))
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "check", "--results", str(res),
                           "--snapshots", str(tmp_path / "s")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 2
    assert proc.stderr.startswith("tfcanary: error: Expected readable results files")
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_an_unwritable_output_is_an_input_error_naming_it(tmp_path, capsys):
    res = write_results(tmp_path / "results")
    (tmp_path / "afile").write_text("x")
    rc, _, err = main(capsys, "report", res, "--out", tmp_path / "afile")
    assert rc == 2 and "afile/index.html: cannot be written" in err


def test_an_internal_error_exits_3_with_its_traceback_and_a_request_to_report_it(tmp_path, capsys, monkeypatch):
    from tfcanary.reports import summary

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(summary, "render", broken)
    res = write_results(tmp_path / "results")
    assert cli.main(["summary", str(res)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err
    assert "internal error (exit 3)" in err and "please report it" in err


def test_alert_without_gh_says_so_and_exits_2(tmp_path, capsys, monkeypatch):
    reports = tmp_path / "reports"
    reports.mkdir()
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name="tf2.21")
    ET.SubElement(ET.SubElement(suite, "testcase", name="alpha/broken/eager"), "failure", type="class-changed")
    (reports / "check.xml").write_text(ET.tostring(root, encoding="unicode"))
    monkeypatch.setenv("TFCANARY_GH", str(tmp_path / "no-gh-here"))
    rc, _, err = main(capsys, "nightly", "alert", "--reports", reports)
    assert rc == 2 and "Expected the GitHub CLI at" in err and "No such file or directory" in err


def test_envs_remove_deletes_a_link_not_what_it_points_to(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(envs.CACHE_ENV_VAR, str(tmp_path / "cache"))
    kept = tmp_path / "elsewhere" / "tf2.15"
    (kept / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (kept / "important").write_text("keep me")
    (tmp_path / "cache" / "envs").mkdir(parents=True)
    (tmp_path / "cache" / "envs" / "tf2.15").symlink_to(kept)
    rc, out, _ = main(capsys, "envs", "--remove", "tf2.15")
    assert rc == 0 and f"removing the link {tmp_path / 'cache' / 'envs' / 'tf2.15'}" in out
    assert (kept / "important").read_text() == "keep me"
    assert not os.path.lexists(tmp_path / "cache" / "envs" / "tf2.15")


# --- 3. no silent wrong answers -----------------------------------------------------------

def test_a_results_file_without_a_label_fails_the_check_instead_of_passing_it(tmp_path, capsys):
    res = write_results(tmp_path / "results")
    snaps = tmp_path / "snapshots"
    assert check.run([res], snaps, update_snapshots=True, echo=lambda s: None) == 0
    p = res / "tf2.21.json"
    doc = json.loads(p.read_text())
    del doc["label"]
    p.write_text(json.dumps(doc))
    rc, _, err = main(capsys, "check", "--results", res, "--snapshots", snaps)
    assert rc == 2 and f"{p}: not a usable results file: label:" in err


@pytest.mark.parametrize("age", ["nan", "inf", "0", "-1"])
def test_max_age_must_be_a_positive_number(tmp_path, capsys, age):
    res = write_results(tmp_path / "results")
    rc, _, err = main(capsys, "check", "--results", res, "--snapshots", tmp_path / "s", f"--max-age={age}")
    assert rc == 2 and "Expected --max-age DAYS, a number above 0" in err


def test_envs_remove_all_says_what_goes_before_it_goes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(envs.CACHE_ENV_VAR, str(tmp_path))
    rc, out, _ = main(capsys, "envs", "--all")
    assert rc == 0 and "nothing to remove" in out
    for label in ("tf2.15", "tf2.21"):
        (tmp_path / "envs" / label / "lib").mkdir(parents=True)
        (tmp_path / "envs" / label / "lib" / "blob").write_bytes(b"x" * 2048)
    lines = []
    envcache.remove([], everything=True, echo=lambda line: lines.append((line, os.path.exists(tmp_path / "envs" / "tf2.15"))))
    assert lines[0] == (f"removing tf2.15: {tmp_path / 'envs' / 'tf2.15'} (2.0 KiB)", True)
    assert lines[1][0].startswith("removing tf2.21: ")
    assert envcache.entries() == []


# --- 4 and 5. what is rendered is escaped for its format ----------------------------------

def test_only_https_links_are_rendered(tmp_path, capsys):
    res = mutated(tmp_path / "results", lambda d: d["cases"][0].update(url="javascript:alert(1)"))
    rc, _, err = main(capsys, "report", res, "--out", tmp_path / "r")
    assert rc == 2 and "cases[0].url: expected an https:// link" in err
    # And where a link is shown, the templates take it through the filter that keeps https only.
    assert toolkit.https("javascript:alert(1)") == "" and toolkit.https("https://x.org/a") == "https://x.org/a"
    for name in ("index.html", "_upgrade_item.html"):
        text = (toolkit.TEMPLATES / name).read_text()
        assert "c.url|https" in text and 'href="{{ c.url }}"' not in text


def test_pipes_and_backticks_in_versions_classes_and_case_ids_keep_markdown_tables_whole(tmp_path, capsys):
    node = "tests/test_x.py::test_y[a|b`c]"

    def hostile(d):
        d["metadata"].update(tensorflow="2.21.0|`x", keras="3|3")
        for o in d["outcomes"]:
            if o["case"] == "alpha":
                o["case"] = node
            if o.get("exc_type"):
                o["exc_type"] = "my.mod.Bad|Error`x"
                o["frame"] = "x.py:1 in `call|"
        d["cases"][0]["id"] = node

    res = mutated(tmp_path / "results", hostile)
    snaps = tmp_path / "snapshots"
    write_results(tmp_path / "clean")
    assert check.run([tmp_path / "clean"], snaps, update_snapshots=True, echo=lambda s: None) == 0
    md = tmp_path / "check.md"
    rc, _, _ = main(capsys, "check", "--results", res, "--snapshots", snaps, "--markdown", md)
    assert rc == 1
    text = md.read_text()
    assert table_rows_keep_their_columns(text) >= 8
    assert "2.21.0\\|\\`x" in text and "``tests/test_x.py::test_y[a\\|b`c]``" in text
    rc, _, _ = main(capsys, "upgrade", "tf2.15", "tf2.21", "--results", res, "--out", tmp_path / "r")
    assert rc == 0
    text = (tmp_path / "r" / "upgrade-tf2.15-tf2.21.md").read_text()
    assert table_rows_keep_their_columns(text) >= 10
    assert "``my.mod.Bad\\|Error`x``" in text
