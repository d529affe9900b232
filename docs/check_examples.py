"""Run the tutorial's examples, and compare the documented ``--help`` texts with the real ones.

    sudo python docs/check_examples.py            # tutorial.md, sandbox.md: every ```python block
                                                  # preceded by <!-- run -->
    python docs/check_examples.py --help-texts    # cli.md, oci.md: every ```text block
                                                  # preceded by <!-- help: ARGV -->

The tutorial's blocks run in order, in one namespace (a later block uses what an earlier one
made), in a fresh interpreter, as root.  A block fails on an exception (its ``assert``
statements are the checks).  Exit status: 0 when everything passed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path

DOCS = Path(__file__).resolve().parent
RUN_MARK = re.compile(r"^<!--\s*run\s*-->\s*$")
HELP_MARK = re.compile(r"^<!--\s*help:\s*(.+?)\s*-->\s*$")
FENCE = re.compile(r"^(```+)\s*(\w*)")


def blocks(path: Path, mark: re.Pattern[str], lang: str) -> list[tuple[int, str, str]]:
    """(line number, the mark's group or "", code) of each fenced ``lang`` block that comes
    right after a line matching ``mark`` (blank lines between are allowed)."""
    lines = path.read_text().splitlines()
    out: list[tuple[int, str, str]] = []
    i = 0
    while i < len(lines):
        m = mark.match(lines[i].strip())
        if not m:
            i += 1
            continue
        arg = m.group(1) if m.groups() else ""
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        f = FENCE.match(lines[j]) if j < len(lines) else None
        if f is None or f.group(2) != lang:
            raise SystemExit(f"{path.name}:{i + 1}: the mark is not followed by a ```{lang} block")
        fence = f.group(1)
        body: list[str] = []
        k = j + 1
        while k < len(lines) and not lines[k].startswith(fence):
            body.append(lines[k])
            k += 1
        out.append((j + 2, arg, "\n".join(body) + "\n"))
        i = k + 1
    return out


def run_tutorial(path: Path) -> int:
    if os.geteuid() != 0:
        print("the tutorial's examples need root", file=sys.stderr)
        return 2
    found = blocks(path, RUN_MARK, "python")
    # One fresh interpreter for all blocks (this process stays clean of containers).
    runner = textwrap.dedent(
        """
        import sys, time, traceback
        ns = {"__name__": "__tutorial__"}
        blocks = %r
        failed = 0
        for line, code in blocks:
            t = time.monotonic()
            try:
                exec(compile(code, f"%s:{line}", "exec"), ns)
            except BaseException:
                failed += 1
                print(f"FAIL  line {line}")
                traceback.print_exc()
                break
            print(f"ok    line {line}  ({time.monotonic() - t:.2f} s)")
        sys.exit(1 if failed else 0)
        """
    ) % ([(line, code) for line, _arg, code in found], path.name)
    print(f"{path.name}: {len(found)} blocks")
    t = time.monotonic()
    rc = subprocess.run([sys.executable, "-c", runner], cwd=DOCS.parent).returncode
    print(f"{'passed' if rc == 0 else 'FAILED'} in {time.monotonic() - t:.1f} s")
    return rc


def check_help(paths: list[Path]) -> int:
    env = dict(os.environ, COLUMNS="80", PYTHONPATH=str(DOCS.parent))
    bad = 0
    for path in paths:
        for line, argv, text in blocks(path, HELP_MARK, "text"):
            args = shlex.split(argv)
            if args[0] == "pycontain":
                cmd = [sys.executable, "-m", "pycontain", *args[1:]]
            elif args[0] == "pycontain-runc":
                cmd = [sys.executable, "-c", "import sys; from pycontain.cli.runc import main; "
                       "sys.exit(main())", *args[1:]]
            else:
                raise SystemExit(f"{path.name}:{line}: unknown program {args[0]!r}")
            real = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
            if real.rstrip("\n") == text.rstrip("\n"):
                print(f"ok    {path.name}:{line}  {argv}")
            else:
                bad += 1
                print(f"DIFF  {path.name}:{line}  {argv}")
                import difflib

                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(True), real.splitlines(True), "documented", "actual"))
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--help-texts", action="store_true",
                   help="compare the <!-- help: ... --> blocks of cli.md and oci.md instead")
    p.add_argument("files", nargs="*", type=Path, help="Markdown files (default: see above)")
    a = p.parse_args()
    if a.help_texts:
        return check_help(a.files or [DOCS / "cli.md", DOCS / "oci.md"])
    rc = 0
    for f in a.files or [DOCS / "tutorial.md", DOCS / "sandbox.md"]:
        try:
            rc |= run_tutorial(f)
        except Exception:
            traceback.print_exc()
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
