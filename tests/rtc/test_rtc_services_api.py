"""The call model's public API (`rtc.services`) and the import rules around it.

The rules are the import-linter contracts of ``pyproject.toml`` (``make lint`` runs them in
CI): ``services-api`` (the apps around the call import `rtc.services` itself, none of its
modules) and ``services-below-apps`` (the call model imports none of them, even through
another module). These tests check them against the project's real import graph, and that one
offending import, added to that graph, breaks each.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract

import rtc.services

ROOT = Path(__file__).resolve().parents[2]


class _Forbidden(ForbiddenContract):
    """The forbidden contract as ``lint-imports`` makes it, with its check of unknown options
    reading the class's own attribute table: the library's reads every attribute by name, and in
    this process Twisted's zope.interface has given ``abc.ABC`` a ``__provides__`` that raises
    when read through a subclass."""

    @classmethod
    def _get_unrecognized_option_errors(cls, contract_options: dict[str, Any]) -> dict[str, str]:
        known = {"id", "name", "type", *cls._get_field_names()}
        return dict.fromkeys(set(contract_options) - known, "Unrecognized option.")


def _contract(contract_id: str = "services-api") -> tuple[ForbiddenContract, list[str]]:
    """A contract as ``pyproject.toml`` declares it, and the root packages of its graph."""
    config = read_configuration(str(ROOT / "pyproject.toml"))
    (options,) = [c for c in config["contracts_options"] if c.get("id") == contract_id]
    options = {k: v for k, v in options.items() if k not in ("id", "name", "type")}
    contract = _Forbidden(name=contract_id,
                          session_options=config["session_options"],
                          contract_options=options)
    return contract, config["session_options"]["root_packages"]


def _graph(roots: list[str]) -> grimp.ImportGraph:
    return grimp.build_graph(*roots, cache_dir=None)


def test_the_apps_import_only_the_services_api():
    """The project as it is keeps the contract: integrations, collab, recordings, the admin
    and operations pages and the process's life cycle (start, stop, probes) import
    `rtc.services` itself and none of its modules."""
    contract, roots = _contract()
    graph = _graph(roots)
    check = contract.check(graph, verbose=False)
    assert check.kept, check.metadata
    # and they do use the API: the contract is not kept by having nothing to check
    importers = graph.find_modules_that_directly_import("rtc.services")
    assert {"integrations.live_rooms", "collab.signaling", "recordings.live"} <= importers


@pytest.mark.parametrize(("importer", "imported"), [
    ("integrations.live_rooms", "rtc.services.rooms"),
    ("collab.signaling", "rtc.services.media_ops"),
    ("recordings.live", "rtc.services.spread"),
    ("rtc.operations.metrics", "rtc.services.room_service"),
    ("rtc.lifecycle.health", "rtc.services.config"),
])
def test_importing_a_services_module_from_outside_breaks_the_contract(importer, imported):
    """One import of a module behind the API (the call model's rooms, media operations,
    router spread, the service's module) from an app around the call breaks the contract,
    and the report names that import."""
    contract, roots = _contract()
    graph = _graph(roots)
    graph.add_import(importer=importer, imported=imported, line_number=1,
                     line_contents=f"from {imported} import something")
    check = contract.check(graph, verbose=False)
    assert not check.kept
    chains = [chain for found in check.metadata["invalid_chains"] for chain in found["chains"]]
    assert [(link["importer"], link["imported"]) for chain in chains for link in chain] == [
        (importer, imported)]


def test_the_call_model_imports_none_of_the_apps_around_it():
    """The project keeps ``services-below-apps``; a module of the call model that imports an
    app around it, here through another module (spread → rtc.cluster.cascade → the
    integrations' live rooms), breaks it."""
    contract, roots = _contract("services-below-apps")
    graph = _graph(roots)
    check = contract.check(graph, verbose=False)
    assert check.kept, check.metadata
    assert graph.direct_import_exists(importer="rtc.services.spread",
                                      imported="rtc.cluster.cascade")
    graph.add_import(importer="rtc.cluster.cascade", imported="integrations.live_rooms",
                     line_number=1, line_contents="from integrations import live_rooms")
    check = contract.check(graph, verbose=False)
    assert not check.kept
    broken = {(found["downstream_module"], found["upstream_module"])
              for found in check.metadata["invalid_chains"]}
    assert ("rtc.services", "integrations") in broken


def test_the_call_model_modules_stay_under_500_lines():
    """Each module of `rtc.services` stays under about 500 lines (the team's bar): a module
    that grows past it has a second job to move out, as the media requests' hand-overs
    left ``room_service.py`` for ``media_requests.py``."""
    sizes = {path.name: len(path.read_text().splitlines())
             for path in (ROOT / "rtc" / "services").glob("*.py")}
    assert "room_service.py" in sizes and "media_requests.py" in sizes
    assert {name: n for name, n in sizes.items() if n > 500} == {}


def test_every_name_of_the_api_loads_from_its_module():
    """Each name `rtc.services` exports is the object its module defines (loaded on first
    use), and a name it does not export is an AttributeError, not a module's private part."""
    for name in rtc.services.__all__:
        value = getattr(rtc.services, name)
        module = rtc.services._EXPORTS.get(name)
        if module is not None:
            assert value is getattr(importlib.import_module(module), name)
    assert rtc.services.RoomService.close_producer.__qualname__ == "MediaRequests.close_producer"
    with pytest.raises(AttributeError):
        rtc.services.MediaOperations  # noqa: B018
