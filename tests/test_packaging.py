"""The wheel as a user gets it: built from the repository, installed into a fresh venv, its file
commands run from an empty directory with the exit codes the README gives; no generic top-level
packages (flows, tasks, sandbox) in site-packages; a flow command says it needs the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, SETTLEMENT_V2

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_package_list_is_the_tree() -> None:
    """pyproject lists the packages by hand (two are mapped folders): none may be forgotten."""
    mapped = PYPROJECT["package-dir"]
    in_tree = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "paydag").rglob("__init__.py")}
    assert set(PYPROJECT["packages"]) == in_tree | set(mapped)
    assert all((REPO / folder / "__init__.py").is_file() for folder in mapped.values())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; the dependencies come from this venv, read-only."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("paydag", "config", "expectations", "flows", "tasks", "sandbox"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (work / "dist").glob("paydag-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"paydag", f"paydag-{wheel.name.split('-')[1]}.dist-info"}, tops

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())  # fmt: skip
    # The dependencies: this venv's site-packages, appended after the fresh one (its .pth files,
    # among them the editable install of the checkout, are not processed from there).
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert not {"flows", "tasks", "sandbox", "expectations", "config"} & {p.name for p in site.iterdir()}
    return venv


def run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYDAG_", "PYTHON"))}
    env |= {"PAYDAG_HOME": str(cwd / ".paydag"), "HOME": str(cwd)}
    return subprocess.run([str(venv / "bin" / "paydag"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_file_commands_run_from_the_installed_wheel_anywhere(installed: Path, tmp_path: Path) -> None:
    here = tmp_path / "elsewhere"
    here.mkdir()
    payables = shutil.copy(FIXTURES / "payables" / "paydag_mixed.csv", here / "payables.csv")
    built = run(installed, here, "build-pain001", str(payables), "--company", "demo", "--out", "out.xml",
                "--today", "2026-11-20")  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert "5 payment(s), control sum 30715.60, XSD-valid" in built.stdout
    assert (here / "out.xml").read_bytes().startswith(b"<?xml")
    broken = here / "broken.csv"
    broken.write_text(payables.read_text().replace("5050-1055", "5050-1056"))
    invalid = run(installed, here, "build-pain001", str(broken), "--company", "demo", "--out", "x.xml",
                  "--today", "2026-11-20")  # fmt: skip
    assert invalid.returncode == 1 and "nothing was built" in invalid.stderr

    parsed = run(
        installed, here, "parse", str(FIXTURES / "pain002" / "paydag_pain.002.001.03_txn_reject.xml")
    )
    assert parsed.returncode == 0 and "3 row(s): ACCP 1, RJCT 2" in parsed.stdout, parsed.stderr
    (here / "x.pdf").write_bytes(b"%PDF-1.7")
    assert run(installed, here, "parse", "x.pdf").returncode == 2

    valid = run(installed, here, "validate", str(SETTLEMENT_V2))
    assert valid.returncode == 0 and "passes all" in valid.stdout, valid.stderr
    (here / "t.xml").write_bytes(
        SETTLEMENT_V2.read_bytes().replace(b'Amount="1295.00"', b'Amount="1296.00"', 1)
    )
    tampered = run(installed, here, "validate", "t.xml")
    assert tampered.returncode == 1 and "expect_column_sum_to_be_between" in tampered.stderr


def test_a_flow_command_without_the_repository_says_so(installed: Path, tmp_path: Path) -> None:
    polled = run(installed, tmp_path, "poll", "--company", "demo")
    assert polled.returncode == 2
    assert "ship with the repository, not the wheel" in polled.stderr and "PAYDAG_PROJECT" in polled.stderr
