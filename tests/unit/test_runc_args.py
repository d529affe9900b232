"""pycontain-runc's create/run/exec flags: the quick parser (no argparse) gives what argparse,
built from the same flag table, gives, or hands the line to argparse."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest

from pycontain.cli.runc import create, run
from pycontain.cli.runc import exec as exec_
from pycontain.cli.runc._args import Flag, parse, quick
from pycontain.cli.runc._common import UsageError

VERBS = {"create": (create.FLAGS, False), "run": (run.FLAGS, False), "exec": (exec_.FLAGS, True)}

#: what clients write (podman's conmon, containerd's shim, dockerd's, the validation suite)
COMMON = {
    "create": [["--bundle", "/b", "--pid-file", "/p", "c1"],
               ["-b", "/b", "--console-socket", "/s", "--pid-file=/p", "c1"],
               ["-bundle", "/b", "-pid-file=/p", "--no-new-keyring", "c1"],
               ["c1", "--bundle", "/b"], ["--preserve-fds", "2", "c1"], ["c1"], [""]],
    "run": [["-b", "/b", "c1"], ["--detach", "--bundle", "/b", "c1"], ["-d", "--keep", "c1"],
            ["--bundle=/b", "--pid-file", "/p", "-d", "c1"]],
    "exec": [["c1", "/bin/true"], ["--process", "/p.json", "--detach", "--pid-file", "/p", "c1"],
             ["-t", "-e", "A=1", "-e", "B=2", "--cwd", "/x", "c1", "sh", "-c", "ls -l"],
             ["--user", "1:2", "-g", "3", "--cap", "CAP_KILL", "c1", "ls", "-la"],
             ["c1", "sh", "--tty", "-d"], ["--env=-x", "c1"], ["c1"], ["--cgroup", "/", "c1", "x"],
             ["--console-socket", "/s", "-t", "--preserve-fds=1", "c1", "top", "-tty"]],
}

#: lines the quick parser must hand on (argparse's errors, help, unusual spellings)
ODD = [["--help"], ["-h"], ["-help"], ["--bogus", "c1"], [], ["-b"], ["--preserve-fds", "-1", "c1"],
       ["--preserve-fds=x", "c1"], ["--no-new-keyring=1", "c1"], ["a", "b"], ["-b=x", "c1"],
       ["-bx", "c1"], ["--", "c1"], ["-", "c1"], ["--bundle", "-x", "c1"], ["--tty=1", "c1"],
       ["-dt", "c1"], ["--bundl", "/b", "c1"], ["c1", "--bogus"], ["c1", "--", "ls"]]


def _argparse(verb: str, args: list[str]) -> dict[str, object] | str:
    flags, command = VERBS[verb]

    def build(p: object) -> None:
        import argparse

        for f in flags:
            f.add_to(p)  # type: ignore[arg-type]
        p.add_argument("id")  # type: ignore[attr-defined]
        if command:
            p.add_argument("command", nargs=argparse.REMAINDER)  # type: ignore[attr-defined]

    try:
        return vars(parse(verb, args, build))
    except UsageError as err:
        return f"error: {err}"
    except SystemExit:
        return "help"


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_quick_takes_the_common_lines_as_argparse_does(verb: str) -> None:
    flags, command = VERBS[verb]
    for args in COMMON[verb]:
        got = quick(args, flags, command=command)
        assert got is not None, args
        assert vars(got) == _argparse(verb, args), args


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_quick_hands_the_rest_to_argparse(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    flags, command = VERBS[verb]
    for args in ODD:
        got = quick(args, flags, command=command)
        want = _argparse(verb, args)
        if got is None:
            continue
        assert vars(got) == want, args   # e.g. exec's command keeps what follows the id
    # every one that argparse refuses or answers with help is handed on
    for args in ODD:
        if not isinstance(_argparse(verb, args), dict):
            assert quick(args, flags, command=command) is None, args


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_quick_agrees_on_every_short_mix(verb: str) -> None:
    """Every line of up to four tokens from a small alphabet: the same result or handed on."""
    flags, command = VERBS[verb]
    alphabet = ["c1", "x", "-d", "--bundle", "-e", "--preserve-fds", "3", "--", "-t", "--env=A"]
    taken = 0
    for n in range(5):
        for args in itertools.product(alphabet, repeat=n):
            got = quick(list(args), flags, command=command)
            if got is not None:
                taken += 1
                assert vars(got) == _argparse(verb, list(args)), args
    assert taken > 20   # the quick parser did take lines


def test_flag_defaults_as_argparse() -> None:
    assert Flag(("--x",), "switch").default is False
    assert Flag(("--x",), "count").default == 0
    assert Flag(("--a-b", "-a")).dest == "a_b"


def test_create_run_exec_parse_without_argparse(tmp_path: object) -> None:
    code = ("import sys\n"
            "from pycontain.cli.runc import create, run, exec as e\n"
            "from pycontain.cli.runc._args import parse_flags\n"
            "parse_flags('create', ['-b', '/b', '--pid-file', '/p', 'c1'], create.FLAGS)\n"
            "parse_flags('run', ['-d', '-b', '/b', 'c1'], run.FLAGS)\n"
            "a = parse_flags('exec', ['-e', 'A=1', 'c1', 'ls', '-l'], e.FLAGS, command=True)\n"
            "assert a.command == ['ls', '-l'] and a.env == ['A=1'], a\n"
            "bad = {'argparse', 're', 'gettext', 'locale', 'enum'} & set(sys.modules)\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-I", "-S", "-c",
                        f"import sys; sys.path[:0] = {sys.path!r}\n" + code],
                       check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
