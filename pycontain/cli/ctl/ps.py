"""``pycontain ps``: the engine's containers, as a table, ids or JSON lines."""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any

from pycontain.engine.netstate import ports_text

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true",
                   help="show every container (default: those that run)")
    p.add_argument("-q", "--quiet", action="store_true", help="only the ids")
    p.add_argument("--no-trunc", action="store_true", help="whole ids and commands")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table (the default) or json: one JSON object per line")


def _since(stamp: str) -> float:
    if not stamp or stamp.startswith("0001-"):
        return 0.0
    t = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")[:26] + "+00:00"
                                        if "." in stamp else stamp.replace("Z", "+00:00"))
    return (datetime.datetime.now(datetime.UTC) - t).total_seconds()


def human(seconds: float) -> str:
    """Docker's wording of a duration ("Less than a second", "About a minute", "3 hours")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    return f"{h // 24} days"


def status_text(info: dict[str, Any]) -> str:
    st = info["State"]
    if st["Status"] == "running":
        up = f"Up {human(_since(st['StartedAt']))}"
        health = (st.get("Health") or {}).get("Status")
        if health == "starting":
            return f"{up} (health: starting)"   # Docker's words
        return f"{up} ({health})" if health else up
    if st["Status"] == "restarting":
        return f"Restarting ({st['ExitCode']}) {human(_since(st['FinishedAt']))} ago"
    if st["Status"] == "exited":
        return f"Exited ({st['ExitCode']}) {human(_since(st['FinishedAt']))} ago"
    return str(st["Status"]).capitalize()


def row(info: dict[str, Any], trunc: bool = True) -> dict[str, Any]:
    cmd = " ".join(info["Config"]["Cmd"])
    if trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    return {
        "ID": info["Id"][:12] if trunc else info["Id"],
        "Names": info["Name"].lstrip("/"),
        "Command": f'"{cmd}"',
        "CreatedAt": info["Created"],
        "RunningFor": human(_since(info["Created"])) + " ago",
        "State": info["State"]["Status"],
        "Status": status_text(info),
        "RestartCount": info["RestartCount"],
        "Image": info["Config"]["Image"] or "(host)",
        "Ports": ports_text(info.get("NetworkSettings", {}).get("Ports", {})),
    }


def main(args: argparse.Namespace) -> int:
    infos = engine().list(all=args.all)
    if args.quiet:
        for info in infos:
            print(info["Id"] if args.no_trunc else info["Id"][:12])
        return 0
    rows = [row(i, not args.no_trunc) for i in infos]
    if args.format == "json":
        for r in rows:
            print(json.dumps(r))
        return 0
    cols = [("CONTAINER ID", "ID"), ("COMMAND", "Command"), ("CREATED", "RunningFor"),
            ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names")]
    widths = [max([len(h)] + [len(str(r[k])) for r in rows]) for h, k in cols]
    print("   ".join(h.ljust(w) for (h, _), w in zip(cols, widths, strict=True)).rstrip())
    for r in rows:
        print("   ".join(str(r[k]).ljust(w) for (_, k), w in zip(cols, widths, strict=True))
              .rstrip())
    return 0
