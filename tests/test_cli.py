"""`tensorc doctor`: one screen on compilers, BLAS, nvcc, pycuda and the GPU,
with a fix for each missing piece."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tensorc import cli
from tensorc.runtime.cuda import cuda_status

ROOT = Path(__file__).resolve().parent.parent


def test_doctor_reports_every_piece(capsys):
    assert cli.main(["doctor"]) == 0
    report = capsys.readouterr().out
    lines = report.splitlines()
    assert lines[0] == "tensorc doctor"
    for name in ("tensorc", "C compiler", "BLAS", "C++ compiler", "nvcc", "pycuda"):
        assert any(line[5:].startswith(name) for line in lines), name
    assert "  ok C compiler" in report and "  ok BLAS" in report
    assert lines[-1].startswith("devices: cpu yes, cuda-emu yes, cuda ")
    status = cuda_status()
    if status.missing == "pycuda":
        assert "  -- pycuda" in report and "pip install 'tensorc[cuda]'" in report
        assert lines[-1].endswith("cuda no (pycuda missing)")


def test_doctor_names_the_fix_for_missing_tools(capsys, monkeypatch):
    which = cli.shutil.which
    monkeypatch.setattr(
        cli.shutil, "which", lambda n: None if n == "nvcc" else which(n)
    )
    monkeypatch.setenv("TENSORC_CC", "/nonexistent/cc")
    assert cli.main(["doctor"]) == 1  # device 'cpu' cannot work without a C compiler
    report = capsys.readouterr().out
    assert "  -- C compiler" in report and "/nonexistent/cc" in report
    assert "  -- nvcc          not on PATH" in report and "nvidia-cuda-nvcc" in report
    assert "devices: cpu NO" in report


def test_doctor_as_a_module_and_a_console_script():
    result = subprocess.run(
        [sys.executable, "-m", "tensorc", "doctor"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "devices: cpu yes" in result.stdout
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tensorc"] == "tensorc.cli:main"


def test_unknown_command_is_rejected(capsys):
    with pytest.raises(SystemExit):
        cli.main(["cure"])
    assert "invalid choice" in capsys.readouterr().err
