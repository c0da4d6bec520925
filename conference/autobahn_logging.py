"""Autobahn (daphne's WebSocket protocol) without the cost of its disabled debug lines.

Autobahn builds the arguments of its debug log calls before the logger drops them: every frame
sent or received colours three values with ``click.style`` (``autobahn.util.hl``, when click is
installed, as Django's dependencies make it), and every new connection pretty-prints its ~40
options with ``pprint.pformat``. Measured in a burst of 200 sockets (bench/README.md, "burst")
that was about a millisecond of the event loop per socket: half its handshake, and more than
the JSON encoding of all its messages. :func:`install` makes ``hl`` plain text (colours only
ever served a terminal) and skips the options' pretty-print unless autobahn logs at debug level.

Every frame sent also names its method for a debug line (``hltype(self.sendData)``: three
``inspect`` checks, a split, a join): :func:`hltype` remembers that text per function, which
is all it depends on (about 1 % of the event loop in the same burst, py-spy).
"""

from __future__ import annotations

import pprint
import types
from typing import Any

__all__ = ["install"]

_DEBUG_LEVELS = frozenset({"debug", "trace"})


def _pformat_when_debugging(obj: Any, *args: Any, **kwargs: Any) -> str:
    """``pprint.pformat`` when autobahn's log level would show the result, else ``""``."""
    import txaio

    if txaio.get_global_log_level() in _DEBUG_LEVELS:
        return pprint.pformat(obj, *args, **kwargs)
    return ""


_HLTYPE_MAX = 1024
"""Functions whose ``hltype`` text is remembered (autobahn names a few dozen)."""


def _make_hltype(original: Any) -> Any:
    """``autobahn.util.hltype`` remembered per plain function (a bound method: its function);
    anything else (classes, other objects) is formatted every time, as before."""
    texts: dict[types.FunctionType, str] = {}

    def hltype(obj: Any) -> str:
        function = getattr(obj, "__func__", obj)
        if type(function) is not types.FunctionType:
            return str(original(obj))
        text = texts.get(function)
        if text is None:
            text = str(original(obj))
            if len(texts) < _HLTYPE_MAX:
                texts[function] = text
        return text

    hltype.__doc__ = original.__doc__
    return hltype


def install() -> None:
    """Patch autobahn's two eager debug formatters (idempotent; nothing if it is absent)."""
    try:
        import autobahn.util
        import autobahn.websocket.protocol
    except ImportError:  # pragma: no cover - daphne always brings autobahn
        return
    autobahn.util._HAS_CLICK = False  # noqa: SLF001 - the switch hl() reads
    autobahn.websocket.protocol.pformat = _pformat_when_debugging
    if not getattr(autobahn.websocket.protocol.hltype, "_remembered", False):
        hltype = _make_hltype(autobahn.util.hltype)
        hltype._remembered = True
        autobahn.websocket.protocol.hltype = hltype
