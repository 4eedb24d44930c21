"""The README and docs/ stand on their own: their links stay inside the repository and resolve, they
name nothing outside it, and the README's layout section is the tree as it is."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_links_stay_inside_the_repository_and_resolve() -> None:
    for doc in DOCS:
        text = doc.read_text()
        assert "../shared" not in text and "shared/fixtures" not in text, doc.name
        for target in LINK.findall(text):
            assert "://" not in target, f"{doc.name} links outside the repository: {target}"
            path, _, anchor = target.partition("#")
            resolved = (doc.parent / path).resolve() if path else doc
            assert resolved.is_relative_to(REPO) and resolved.exists(), f"{doc.name}: {target}"
            if anchor:
                headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)}
                assert anchor in headings, f"{doc.name}: no heading #{anchor} in {resolved.name}"


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def layout() -> list[tuple[int, list[str]]]:
    """The README's layout block: (indent, the names at the start of the line)."""
    text = (REPO / "README.md").read_text()
    block = text[text.index("## Layout") :].split("```")[1]
    rows = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent > 2:  # the continuation of a description
            continue
        head = re.split(r"\s{2,}", line.strip())[0]
        names = [n for n in head.split() if re.fullmatch(r"[\w.-]+/?", n) and ("/" in n or n.endswith(".py"))]
        rows.append((indent, names))
    return rows


def test_the_layout_section_is_the_tree() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    top_dirs = {p.split("/")[0] + "/" for p in tracked if "/" in p and not p.startswith(".")}
    listed_top = {n for indent, names in layout() if indent == 0 for n in names}
    assert listed_top == top_dirs  # every top-level folder, and only those
    for indent, names in layout():
        for name in names:
            where = REPO / name if indent == 0 else REPO / "paydag" / name
            assert where.exists(), f"README layout names {name}, which is not in the tree"
    listed_in_library = {n.rstrip("/") for indent, names in layout() if indent > 0 for n in names}
    library = {p.name for p in (REPO / "paydag").iterdir() if not p.name.startswith("__")}
    library = {n.removesuffix(".py") if n.endswith(".py") else n for n in library} - {"py.typed"}
    assert library == {n.removesuffix(".py") for n in listed_in_library}
