"""The config models, keyword-only records (pycontain/lowlevel/record.py): keyword
construction with defaults, frozen, equality, hash and repr by field, evolve(), copies; their
JSON names are field metadata (oci/spec/fields.py); the JSON reader resolves every field's
annotation; and the models cost a one-shot command line neither attrs nor typing."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pycontain.errors import ConfigError
from pycontain.lowlevel.record import Record, fields
from pycontain.oci.spec import (
    OCI_VERSION,
    FrozenError,
    Linux,
    Memory,
    OciProcess,
    OciResources,
    OciUser,
    Root,
    Spec,
    dump_spec,
    evolve,
    load_spec,
    models,
)
from pycontain.oci.spec.fields import Uint32, json_key
from pycontain.oci.spec.structure import structure, unstructure

MODELS = [v for v in vars(models).values()
          if isinstance(v, type) and issubclass(v, Record) and v is not Record]
ROOT = str(Path(__file__).resolve().parents[2])


def test_there_are_35_models() -> None:
    assert len(MODELS) == 35


def test_keywords_defaults_and_factories() -> None:
    p = OciProcess(cwd="/", args=("sh",))
    assert (p.cwd, p.args, p.env, p.terminal, p.capabilities) == ("/", ("sh",), (), False, None)
    # a factory default is made per instance: no dict or user is shared between two specs
    assert p.user == OciUser() and p.user is not OciProcess(cwd="/").user
    assert Spec().annotations == {} and Spec().annotations is not Spec().annotations
    assert Spec().oci_version == OCI_VERSION


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Root(), "Root() missing required argument: 'path'"),  # type: ignore[call-arg]
    (lambda: Root(path="r", read_only=True),  # type: ignore[call-arg]
     "Root() got an unexpected keyword argument 'read_only'"),
    (lambda: Root("r"),  # type: ignore[misc]
     "Root() takes keyword arguments only (1 positional given)"),
])
def test_bad_construction_names_the_argument(call: Any, message: str) -> None:
    with pytest.raises(TypeError) as err:
        call()
    assert message in str(err.value)


def test_frozen() -> None:
    r = Root(path="rootfs")
    with pytest.raises(FrozenError) as err:
        r.path = "other"  # type: ignore[misc]
    assert "Root.path" in str(err.value) and isinstance(err.value, AttributeError)
    with pytest.raises(FrozenError):
        del r.readonly
    with pytest.raises(AttributeError):  # slotted: no new attributes either
        r.extra = 1
    assert r == Root(path="rootfs") and not hasattr(r, "__dict__")


def test_equality_hash_and_repr_go_by_field_and_class() -> None:
    a = Memory(limit=1, swap=2)
    assert a == Memory(limit=1, swap=2) and hash(a) == hash(Memory(limit=1, swap=2))
    assert a != Memory(limit=1) and a != models.CPU() and Memory() != models.CPU()
    assert repr(Root(path="r")) == "Root(path='r', readonly=False)"
    assert repr(models.IOPriority(class_="IOPRIO_CLASS_BE", priority=1)) == (
        "IOPriority(class_='IOPRIO_CLASS_BE', priority=1)")


def test_evolve_makes_a_changed_copy() -> None:
    p = OciProcess(cwd="/", args=("sh",))
    q = evolve(p, args=("true",), terminal=True)
    assert (q.args, q.terminal, q.cwd) == (("true",), True, "/")
    assert (p.args, p.terminal) == (("sh",), False)  # the original is unchanged
    assert evolve(p) == p and evolve(p) is not p
    # copy.replace (Python 3.13) calls __replace__
    assert p.__replace__(cwd="/tmp") == evolve(p, cwd="/tmp")
    with pytest.raises(TypeError) as err:
        evolve(p, argv=("x",))
    assert "OciProcess has no field 'argv'" in str(err.value)


def test_copies_and_pickles_round_trip() -> None:
    spec = load_spec({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                      "process": {"args": ["sh"], "cwd": "/"},
                      "linux": {"resources": {"memory": {"limit": 1024}},
                                "sysctl": {"net.ipv4.ip_forward": "1"}}})
    for other in (copy.copy(spec), copy.deepcopy(spec), pickle.loads(pickle.dumps(spec))):
        assert other == spec and dump_spec(other) == dump_spec(spec)
    deep = copy.deepcopy(spec)
    assert deep.linux is not spec.linux and deep.linux.sysctl is not spec.linux.sysctl  # type: ignore[union-attr]


def test_field_table_keeps_json_names_and_order() -> None:
    assert [json_key(f) for f in fields(Memory)] == [
        "limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
        "disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]
    assert [f.name for f in fields(Spec)][:3] == ["oci_version", "process", "root"]
    assert [json_key(f) for f in fields(models.IDMapping)] == ["containerID", "hostID", "size"]
    assert fields(models.IDMapping)[0].metadata == {"json": "containerID"}
    assert fields(models.Spec)[0].metadata == {"always": True, "required": True}


def test_unknown_field_metadata_is_refused() -> None:
    """A misspelt metadata keyword on a model field is an error at its first load, not a
    field silently dumped by the rule."""
    from pycontain.lowlevel.record import field

    class Odd(Record, kw_only=True):
        name: str = field(default="", jsn="Name")

    with pytest.raises(TypeError, match="Odd.name: unknown field metadata jsn"):
        structure({"name": "x"}, Odd)


def _sample(cl: type[Record]) -> dict[str, Any]:
    """A JSON object with every field of *cl* set to a value of its type (nested models too)."""
    where = vars(models)

    def value(note: str) -> Any:
        note = note.removesuffix(" | None")
        if note.startswith("tuple["):
            return [value(note[len("tuple["):-len(", ...]")])]
        if note.startswith("Mapping[str, "):
            return {"k": value(note[len("Mapping[str, "):-1])}
        if note == "str":
            return "x"
        if note == "bool":
            return True
        found = where[note]
        return _sample(found) if isinstance(found, type) else 1

    return {json_key(f): value(f.annotation) for f in fields(cl)}


@pytest.mark.parametrize("cl", MODELS, ids=lambda c: c.__name__)
def test_every_annotation_resolves_and_round_trips(cl: type[Record]) -> None:
    doc = _sample(cl)
    obj = structure(doc, cl)
    assert unstructure(obj) == doc
    assert structure(unstructure(obj), cl) == obj


@pytest.mark.parametrize(("doc", "field", "message"), [
    ({"linux": {"resources": {"memory": {"limit": "1G"}}}}, "linux.resources.memory.limit",
     'expected an integer, got "1G"'),
    ({"linux": {"resources": {"memory": {"limit": -2}}}}, "linux.resources.memory.limit",
     "must be -1 (unlimited)"),
    ({"linux": {"resources": {"memory": {"kernelTCP": -2}}}}, "linux.resources.memory.kernelTCP",
     "must be -1 (unlimited)"),
    ({"linux": {"uidMappings": [{"containerID": 0, "hostID": 2**32, "size": 1}]}},
     "linux.uidMappings[0].hostID", "out of range for uint32 (0..4294967295), got 4294967296"),
    ({"process": {"args": ["sh"], "cwd": "/", "user": {"uid": True}}}, "process.user.uid",
     "expected an integer, got true"),
    ({"hooks": {"createRuntime": [{"path": "hook"}]}}, "hooks.createRuntime[0].path",
     "must be an absolute path"),
    ({"linux": {"sysctl": {"a": 1}}}, 'linux.sysctl["a"]', "expected a string, got 1"),
    ({"root": {}}, "root.path", "is required"),
])
def test_bad_values_name_their_json_path(doc: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_spec({"ociVersion": "1.0.2", **doc})
    assert err.value.field == field
    assert message in str(err.value)


def test_dump_leaves_out_defaults_but_keeps_the_always_fields() -> None:
    spec = Spec(process=OciProcess(cwd="/"), linux=Linux(resources=OciResources()))
    assert json.dumps(dump_spec(spec)) == json.dumps({
        "ociVersion": OCI_VERSION,
        "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/"},
        "linux": {"resources": {}}})


def test_unknown_annotation_forms_are_refused() -> None:
    from pycontain.oci.spec.structure import _resolve

    assert _resolve("tuple[Uint32, ...] | None", vars(models))[1][1] is Uint32
    for note in ("list[str]", "int | str", "Mapping[int, str]", "NoSuchName", "tuple[str, int]"):
        with pytest.raises(TypeError):
            _resolve(note, vars(models))


PROBE = """
import json, sys
sys.path[:0] = {paths!r}
import pycontain.oci.spec.loader
from pycontain.oci.spec import models
spec = pycontain.oci.spec.loader.load_spec({{"ociVersion": "1.0.2", "root": {{"path": "r"}},
    "process": {{"args": ["sh"], "cwd": "/", "user": {{"uid": 1}}}},
    "linux": {{"resources": {{"memory": {{"limit": 1}}}}}}}})
pycontain.oci.spec.loader.dump_spec(spec)
models.OciProcess(cwd="/").__replace__(cwd="/x")
print(json.dumps(sorted(sys.modules)))
"""


def test_models_load_and_dump_without_attrs_or_typing() -> None:
    """What a one-shot ``pycontain-runc create`` pays for the models, run as the C front end
    runs it (``-I -S``, the package and site-packages on sys.path): the spec read, checked,
    dumped and changed."""
    import sysconfig

    site = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    code = PROBE.format(paths=[ROOT, *site])
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], check=False,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    mods = set(json.loads(r.stdout.splitlines()[-1]))
    assert "pycontain.oci.spec.checks" in mods
    loaded = {"attrs", "attr", "typing", "inspect", "dataclasses", "cattrs"} & mods
    assert not loaded, sorted(loaded)


def test_exec_flags_change_the_process_by_evolve() -> None:
    """``pycontain-runc exec``'s flags applied to the container's process (the records'
    evolve, not attrs')."""
    from pycontain.cli.runc._args import Namespace
    from pycontain.cli.runc.exec import _process

    base = OciProcess(cwd="/home", args=("sh",), env=("A=1", "B=2"),
                      user=OciUser(uid=5, gid=6), no_new_privileges=True)
    a = Namespace(process=None, command=["--", "ls", "-l"], env=["B=3"], user="7:8",
                  additional_gids=["9"], cap=[], cwd=None, tty=True, no_new_privs=False)
    p = _process(a, base)
    assert p == evolve(base, args=("ls", "-l"), env=("A=1", "B=3"), terminal=True,
                       user=OciUser(uid=7, gid=8, additional_gids=(9,)))
    assert base.args == ("sh",)
