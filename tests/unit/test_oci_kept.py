"""The OCI runtime's cleanup record (``ROOT/.#kept/ID.json``): what `delete` reads when a
container's own state is damaged or gone."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from pycontain.errors import ConfigError
from pycontain.oci.state import ContainerState
from pycontain.oci.store import (
    container_store,
    kept_exists,
    kept_locked,
    load_kept,
    remove_kept,
    save_kept,
)

ST = ContainerState(
    id="web", oci_version="1.2.1", pid=4242, start_time=99, bundle="/b", rootfs="/b/rootfs",
    created=datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC), cgroup_path="/web",
    cgroup_created=True, cgroup_parents=("/sys/fs/cgroup/pids/x",),
    config={"process": {"args": ["sh"]}, "hooks": {
        "prestart": [{"path": "/bin/a"}], "poststop": [{"path": "/bin/b"}]}},
)


def test_round_trip_keeps_what_delete_needs(tmp_path: Path) -> None:
    store = container_store(str(tmp_path))
    assert not kept_exists(store, "web") and load_kept(store, "web") is None
    save_kept(store, "web", ST)
    got = load_kept(store, "web")
    assert got == ST._replace(config={"hooks": {"poststop": [{"path": "/bin/b"}]}})
    # the store never takes the records' directory for an entry
    assert store.ids() == []
    with kept_locked(store, "web") as there:
        assert there
        remove_kept(store, "web")
    assert os.listdir(tmp_path) == []  # the directory goes with the last record
    with kept_locked(store, "web") as there:
        assert not there


def test_without_poststop_hooks_no_config(tmp_path: Path) -> None:
    store = container_store(str(tmp_path))
    save_kept(store, "web", ST._replace(config={"hooks": {"prestart": []}}))
    assert load_kept(store, "web").config == {}  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["", "[]", '{"id": 3}', "{"])
def test_damaged_record_is_an_error_naming_the_file(tmp_path: Path, text: str) -> None:
    store = container_store(str(tmp_path))
    save_kept(store, "web", ST)
    path = tmp_path / ".#kept" / "web.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path)):
        load_kept(store, "web")


def test_record_of_another_id_is_refused(tmp_path: Path) -> None:
    store = container_store(str(tmp_path))
    save_kept(store, "web", ST)
    os.rename(tmp_path / ".#kept" / "web.json", tmp_path / ".#kept" / "db.json")
    with pytest.raises(ConfigError, match="names container 'web'"):
        load_kept(store, "db")


def test_bad_id(tmp_path: Path) -> None:
    store = container_store(str(tmp_path))
    with pytest.raises(Exception, match="invalid container id"):
        load_kept(store, "../x")
