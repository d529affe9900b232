"""The pytest plugin (pycontain.testing.plugin), run by pytest's own pytester in a
subprocess, as a user's suite would load it: through the installed entry point."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # a subprocess: our own suite's leak check and fixtures stay out of it
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)


def test_plugin_is_loaded_by_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_loaded(request):
            assert request.config.pluginmanager.hasplugin("pycontain")
    """)
    _run(pytester).assert_outcomes(passed=1)


def test_fixtures_make_and_clean_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import os

        def test_container(pycontain_container):
            c = pycontain_container(memory="64M")
            r = c.run(["sh", "-c", "echo $$"], capture_output=True, text=True)
            assert r.stdout == "1\\n"
            c.spawn(["sleep", "60"])   # left running: the fixture kills it

        def test_sandbox(pycontain_sandbox):
            r = pycontain_sandbox(wall_time=0.3).run(["sleep", "10"])
            assert r.limit == "wall_time"

        def test_cgroup(pycontain_cgroup):
            cg = pycontain_cgroup(memory_max="32M", pids_max=10)
            assert all(os.path.isdir(d) for d in cg.dirs)

        def test_pod(pycontain_pod):
            pod = pycontain_pod()
            c = pod.container()
            assert c.run(["hostname"], capture_output=True, text=True).stdout.strip() == pod.name

        def test_netns(pycontain_netns):
            ns = pycontain_netns()
            assert os.path.exists(ns.path)
            r = ns.container().run(["cat", "/proc/net/dev"], capture_output=True, text=True)
            names = [l.split(":")[0].strip() for l in r.stdout.splitlines()[2:]]
            assert names == ["lo"]
    """)
    _run(pytester, "--pycontain-leak-check").assert_outcomes(passed=5)


def test_leak_check_fails_a_leaking_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pycontain

        leaked = []

        def test_leaks():
            c = pycontain.Container()
            leaked.append(c.spawn(["sleep", "60"]))

        def test_clean(pycontain_container):
            pycontain_container().run(["true"])
    """)
    result = _run(pytester, "--pycontain-leak-check")
    result.assert_outcomes(passed=2, errors=1)   # the leaking test fails at its teardown
    result.stdout.fnmatch_lines(["pycontain leak check:",
                                 "*container process still running: <pycontain.Process *"])


def test_leak_check_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npycontain_leak_check = true\n")
    pytester.makepyfile("""
        import pycontain

        keep = []

        def test_leaks():
            keep.append(pycontain.Container().spawn(["sleep", "60"]))
    """)
    _run(pytester).assert_outcomes(errors=1, passed=1)


def test_needs_marker_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import os
        import pytest

        @pytest.mark.pycontain_needs("root", "containers")
        def test_here():
            assert os.geteuid() == 0

        @pytest.mark.pycontain_needs("root")
        def test_not_root():
            pass

        @pytest.mark.pycontain_needs("warp-drive")
        def test_unknown():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", timeout=120)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2
    assert "warp-drive" in result.stdout.str() + result.stderr.str()


def test_needs_marker_reason_where_the_host_cannot(pytester: pytest.Pytester) -> None:
    # the reason a user sees where the host can't: the suite's own conftest makes this
    # process look unprivileged to the check
    pytester.makeconftest("""
        import os
        os.geteuid = lambda: 65534
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.pycontain_needs("root")
        def test_root():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", timeout=120)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*pycontain: not running as root*"])


def test_works_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("i", range(8))
        def test_many(pycontain_container, i):
            r = pycontain_container().run(["sh", "-c", f"echo {i}"], capture_output=True)
            assert r.stdout == f"{i}\\n".encode()
    """)
    _run(pytester, "-n", "2", "--pycontain-leak-check").assert_outcomes(passed=8)


def test_docs_testing_examples_run(pytester: pytest.Pytester) -> None:
    # docs/testing.md's examples are a user's test file: run them as one
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    pytester.makepyfile("\n\n".join(blocks))
    n = sum(b.count("\ndef test_") + b.startswith("def test_") for b in blocks)
    _run(pytester, "--pycontain-leak-check").assert_outcomes(passed=n)
