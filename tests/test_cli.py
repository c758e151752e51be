import subprocess
import sys

from conftest import RESOURCES, ROOT


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfcanary", *args], capture_output=True, text=True, cwd=ROOT)


def test_a_missing_results_folder_is_a_user_error_without_traceback(tmp_path):
    proc = _cli("summary", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("tfcanary: error: Expected a results folder or file.")
    assert "Traceback" not in proc.stderr


def test_a_newer_results_file_is_a_user_error(tmp_path):
    (tmp_path / "tf2.15.json").write_text('{"schema": 999, "label": "tf2.15"}')
    proc = _cli("summary", str(tmp_path))
    assert proc.returncode == 2 and "newer tfcanary" in proc.stderr and "Traceback" not in proc.stderr


def test_list_reports_corpus_errors_and_fails(tmp_path):
    proc = _cli("list", "--cases", str(RESOURCES / "corpus_bad"))
    assert proc.returncode == 1
    assert "good-one" in proc.stdout
    assert "b_import_error.py:3: case module failed to import" in proc.stderr


def test_list_the_real_corpus():
    proc = _cli("list")
    assert proc.returncode == 0, proc.stderr
    assert "python-if-on-tensor" in proc.stdout


def test_with_specs_keep_their_options_together():
    from tfcanary import cli

    rest, specs = cli.split_with(["run", "--with", "-e", ".", "--env", "tf2.15", "--with", "mypkg==1.2",
                                  "--with=-r req.txt"])
    assert rest == ["run", "--env", "tf2.15"]
    assert specs == ["-e .", "mypkg==1.2", "-r req.txt"]


def test_a_wrong_env_label_names_close_matches(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "run", "--cases", str(tmp_path),
                           "--env", "tf2.21-legacyy"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Did you mean 'tf2.21-legacy'" in proc.stderr, proc.stderr
    proc = _cli("upgrade", "tf9.99", "tf2.15", "--results", str(RESOURCES))
    assert "Did you mean 'tf9.99'" not in proc.stderr
