"""The `tensorc` command. `tensorc doctor` reports, in one screen, what each
device needs and whether it is there: the C compiler and BLAS (device 'cpu'), a
C++ compiler (device 'cuda-emu'), nvcc and its architectures (compile checks of
the generated CUDA), pycuda, libcuda and the GPUs (device 'cuda'), each with
the fix when something is missing. Exit status 0 when device 'cpu' works."""

from __future__ import annotations

import argparse
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Check:
    """One line of the report: `ok` is True, False, or None (information)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def _run(command: Sequence[str], stdin: str | None = None) -> tuple[int, str]:
    """Exit status and combined output of `command` (127 if it cannot start)."""
    try:
        result = subprocess.run(
            list(command),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return result.returncode, result.stdout + result.stderr


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _compiles(compiler: tuple[str, ...], language: str, code: str) -> tuple[bool, str]:
    """Whether `compiler` builds `code` into a shared library (as tensorc does)."""
    with tempfile.TemporaryDirectory(prefix="tensorc-doctor-") as scratch:
        output = str(Path(scratch) / "probe.so")
        status, text = _run(
            [*compiler, "-x", language, "-shared", "-fPIC", "-o", output, "-"], code
        )
    return status == 0, _first_line(text)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # a source checkout without metadata
        return "(version unknown)"


def check_tensorc() -> Check:
    import numpy

    versions = (
        f"tensorc {_version('tensorc')}",
        f"python {platform.python_version()}",
        f"numpy {numpy.__version__}",
        f"xdsl {_version('xdsl')}",
    )
    return Check("tensorc", None, ", ".join(versions))


def check_c_compiler() -> Check:
    from tensorc.errors import CompilerNotFoundError
    from tensorc.runtime import cpu

    try:
        compiler = cpu.find_c_compiler()
    except CompilerNotFoundError as exc:
        return Check("C compiler", False, str(exc).split(". ")[0], "apt install gcc")
    _, version = _run([*compiler, "--version"])
    works, error = _compiles(compiler, "c", "int tensorc_probe(void) { return 0; }\n")
    where = shutil.which(compiler[0]) or compiler[0]
    detail = f"{shlex.join(compiler)}: {_first_line(version)} ({where})"
    if not works:
        return Check(
            "C compiler",
            False,
            f"{detail} cannot build a library: {error}",
            "set TENSORC_CC (or TENSORC_FLAGS=cc=...) to a working compiler",
        )
    return Check("C compiler", True, detail)


def check_blas() -> Check:
    try:
        import scipy_openblas32 as blas
    except ImportError as exc:
        return Check("BLAS", False, str(exc), "pip install scipy-openblas32")
    directory = Path(blas.get_lib_dir())
    libraries = sorted(directory.glob(f"lib{blas.get_library()}.*"))
    version = getattr(blas, "__version__", "?")
    if not libraries:
        return Check(
            "BLAS",
            False,
            f"scipy-openblas32 {version}: no library in {directory}",
            "pip install --force-reinstall scipy-openblas32",
        )
    return Check("BLAS", True, f"scipy-openblas32 {version}: {libraries[0]}")


def check_cxx_compiler() -> Check:
    from tensorc.errors import CompilerNotFoundError
    from tensorc.runtime import cuda_emu

    try:
        compiler = cuda_emu.find_cxx_compiler()
    except CompilerNotFoundError:
        return Check(
            "C++ compiler",
            False,
            "none found (device 'cuda-emu' needs one)",
            "apt install g++, or set TENSORC_CXX",
        )
    _, version = _run([*compiler, "--version"])
    works, error = _compiles(
        compiler, "c++", "#include <utility>\nint tensorc_probe() { return 0; }\n"
    )
    detail = f"{shlex.join(compiler)}: {_first_line(version)} (device 'cuda-emu')"
    if not works:
        return Check("C++ compiler", False, f"{detail}: {error}", "set TENSORC_CXX")
    return Check("C++ compiler", True, detail)


def check_nvcc() -> Check:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return Check(
            "nvcc",
            False,
            "not on PATH (needed by pycuda and to compile-check the generated CUDA)",
            "install the CUDA toolkit, or `pip install "
            "nvidia-cuda-nvcc nvidia-nvvm nvidia-cuda-crt` (same version)",
        )
    _, version = _run([nvcc, "--version"])
    release = next(
        (
            line.split("release", 1)[1].strip()
            for line in version.splitlines()
            if "release" in line
        ),
        _first_line(version),
    )
    _, codes = _run([nvcc, "--list-gpu-code"])
    archs = " ".join(sorted(set(codes.split()), key=lambda a: int(a.split("_")[-1])))
    return Check("nvcc", True, f"{release} ({nvcc}); architectures: {archs or '?'}")


def check_cuda() -> list[Check]:
    """pycuda, then libcuda and the GPUs, as far as they can be checked."""
    from tensorc.runtime.cuda import FIXES, cuda_status

    status = cuda_status()
    if status.missing == "pycuda":
        return [Check("pycuda", False, status.reason, FIXES["pycuda"])]
    pycuda = Check("pycuda", True, f"pycuda {status.pycuda_version}")
    if status.missing == "libcuda":
        return [pycuda, Check("libcuda", False, status.reason, FIXES["libcuda"])]
    libcuda = Check(
        "libcuda",
        True,
        "loaded"
        + (f" (driver {status.driver_version})" if status.driver_version else ""),
    )
    if status.missing == "device":
        return [pycuda, libcuda, Check("GPU", False, status.reason, FIXES["device"])]
    return [pycuda, libcuda, Check("GPU", True, "; ".join(status.devices))]


CHECKS: tuple[Callable[[], Check | list[Check]], ...] = (
    check_tensorc,
    check_c_compiler,
    check_blas,
    check_cxx_compiler,
    check_nvcc,
    check_cuda,
)
"""The doctor's checks, in report order."""


def _devices(results: dict[str, Check]) -> str:
    def ready(*names: str) -> bool:
        return all(results.get(n, Check(n, False, "")).ok for n in names)

    missing = next((n for n in ("pycuda", "libcuda", "GPU") if not ready(n)), None)
    cuda = "yes" if missing is None else f"no ({missing} missing)"
    return (
        f"cpu {'yes' if ready('C compiler', 'BLAS') else 'NO'}, "
        f"cuda-emu {'yes' if ready('C++ compiler') else 'NO'}, cuda {cuda}"
    )


def doctor(stream: TextIO) -> int:
    """Print the report; 0 if device 'cpu' works, else 1."""
    results: dict[str, Check] = {}
    for check in CHECKS:
        found = check()
        for item in found if isinstance(found, list) else [found]:
            results[item.name] = item
    print("tensorc doctor", file=stream)
    for item in results.values():
        mark = {True: "ok", False: "--", None: "  "}[item.ok]
        print(f"  {mark} {item.name:<13} {item.detail}", file=stream)
        if item.fix:
            print(f"     {'':<13} fix: {item.fix}", file=stream)
    print(f"devices: {_devices(results)}", file=stream)
    return 0 if results["C compiler"].ok and results["BLAS"].ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tensorc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="report compilers, BLAS, CUDA and GPU status")
    arguments = parser.parse_args(argv)
    if arguments.command == "doctor":
        return doctor(sys.stdout)
    return 2  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":
    raise SystemExit(main())
