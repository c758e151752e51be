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
