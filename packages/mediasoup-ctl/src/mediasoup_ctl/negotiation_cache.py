"""Produce and consume negotiation, remembered for the inputs that repeat.

Every produce runs the same ``ortc`` chain (validate the RTP parameters, negotiate them with
the router's capabilities, map payload types and SSRCs, derive the consumable parameters),
and every consume derives a consumer's parameters from a producer's consumable ones and the
endpoint's capabilities. Those results depend only on their inputs, apart from the random
SSRCs drawn on each call: a re-publication, the same browser's capabilities consuming the
producers of a meeting, repeat them. So each result is kept as ``marshal`` bytes (C code
turns them back into fresh dicts, the objects each Producer and Consumer own) and the random
SSRCs are written in per call, drawn exactly as ``ortc`` draws them (one
``ortc.generate_random_number()`` per produce, and per non-pipe consume). Whether an
endpoint's capabilities can consume a producer (``Router.can_consume``, asked before each
consume) is remembered the same way: ``ortc.can_consume`` validates the whole capabilities
each time, about 35 us, where their ``marshal`` key takes 5.

Neither plan depends on what differs between endpoints, or between producers, of one shape:
a produce's key leaves out the endpoint's SSRCs and CNAME, a consume's key the producer's
mapped SSRCs and CNAME (``ConsumableShape``, made once per producer); those values are
written into the remembered parameters and request template per call. A plan is kept only
after checking that, filled with other values, it gives what ``ortc`` gives for those.

Keys are the ``marshal`` bytes of the inputs, so only equal plain data (same types, same
key order) shares an entry; inputs that are not plain data, and everything that fails, go
through ``ortc`` every time. Produce plans live on their router (they depend on its RTP
capabilities, which their key leaves out); consume plans are the process's: their key holds
all a consumer's parameters depend on (the consumable parameters carry the router's payload
types and extensions), so every router with the same codecs shares them: a burst of joins
into 20 meetings misses once, not once per meeting. A router's RTP capabilities and its
producers' consumable parameters are fixed once they exist (nothing in this package changes
them, and callers must not either). Each entry also holds the request templates of
its requests (``fbs_template``).
"""

from __future__ import annotations

import marshal
from typing import TYPE_CHECKING, Any, cast

from . import ortc
from .types import MediaKind, RtpMapping, RtpParameters

if TYPE_CHECKING:
    from collections.abc import Callable

    from .producer import Producer
    from .transport import Transport

__all__ = ["ProducePlan", "ConsumePlan", "ConsumableShape", "produce_plan", "consume_plan",
           "can_consume", "CACHE_MAX", "CONSUME_CACHE_MAX"]

CACHE_MAX = 64
"""Produce plans kept per router before the cache is reset."""
CONSUME_CACHE_MAX = 256
"""Consume plans and ``can_consume`` answers kept (in the process) before that cache is reset:
one per (producer shape, capabilities[, RTX]), so the browser versions in use times the kinds
of track (microphone, camera, screen) with room to spare."""

_consume_cache: dict[Any, Any] = {}
"""The process's consume plans and ``can_consume`` answers (see the module's text)."""

# marshal.dumps for the TypedDicts this module keeps (plain dicts at run time).
_dumps: Callable[[Any], bytes] = marshal.dumps


def _key(value: Any) -> bytes | None:
    try:
        return marshal.dumps(value)
    except ValueError:  # not plain data: no key
        return None


_MARK = ()
"""Stands for a value taken out of a produce's key (a tuple: never in JSON-decoded data)."""
_U32 = 0xFFFFFFFF


class ProducePlan:
    """What a produce of given RTP parameters negotiates, without the values each endpoint
    draws for itself: the producer's parameters, the RTP mapping without its mapped SSRCs,
    the consumable parameters (their SSRCs are the mapped ones), and the templates of its
    request. The endpoint's own SSRCs (of each encoding and its RTX) and the transport's
    CNAME are written in per call (:meth:`results`); ``cname`` is the CNAME the key kept
    (not a string: the endpoint gave none, ``_cname_for`` draws or reuses one)."""

    __slots__ = ("params_blob", "mapping_codecs", "mapping_encodings", "consumable_blob",
                 "templates", "cname", "ssrc_slots", "rtx_slots")

    def __init__(self, params: RtpParameters, mapping: RtpMapping, consumable: RtpParameters,
                 cname: Any, ssrc_slots: tuple[int, ...], rtx_slots: tuple[int, ...]) -> None:
        self.params_blob = _dumps(params)
        self.mapping_codecs = marshal.loads(marshal.dumps(mapping["codecs"]))
        self.mapping_encodings: list[dict[str, Any]] = [
            {k: v for k, v in e.items() if k != "mappedSsrc"} for e in mapping["encodings"]]
        self.consumable_blob = _dumps(consumable)
        self.templates: dict[Any, Any] = {}
        self.cname = cname
        self.ssrc_slots = ssrc_slots
        """Encodings whose ``ssrc`` is the endpoint's (written in per call)."""
        self.rtx_slots = rtx_slots
        """Encodings whose ``rtx.ssrc`` is the endpoint's."""

    def mapping(self, mapped_ssrcs: tuple[int, ...], ssrcs: tuple[int, ...] = ()) -> RtpMapping:
        """The RTP mapping with these mapped SSRCs (one per encoding) and the endpoint's
        ``ssrcs`` (one per ``ssrc_slots``)."""
        encodings = [{"mappedSsrc": ssrc, **encoding} for ssrc, encoding
                     in zip(mapped_ssrcs, self.mapping_encodings, strict=True)]
        for index, ssrc in zip(self.ssrc_slots, ssrcs, strict=True):
            encodings[index]["ssrc"] = ssrc
        return cast(RtpMapping, {"codecs": self.mapping_codecs, "encodings": encodings})

    def params(self, cname: str | None, ssrcs: tuple[int, ...], rtx_ssrcs: tuple[int, ...]
               ) -> RtpParameters:
        """Fresh producer parameters with this CNAME (None: the kept one) and SSRCs."""
        params: RtpParameters = marshal.loads(self.params_blob)
        encodings: list[Any] = params["encodings"]
        for index, ssrc in zip(self.ssrc_slots, ssrcs, strict=True):
            encodings[index]["ssrc"] = ssrc
        for index, ssrc in zip(self.rtx_slots, rtx_ssrcs, strict=True):
            encodings[index]["rtx"]["ssrc"] = ssrc
        if cname is not None:
            params["rtcp"]["cname"] = cname
        return params

    def results(self, cname: str | None = None, ssrcs: tuple[int, ...] = (),
                rtx_ssrcs: tuple[int, ...] = ()
                ) -> tuple[RtpParameters, RtpParameters, tuple[int, ...]]:
        """Fresh producer and consumable parameters, and the mapped SSRCs, for a new call."""
        base = ortc.generate_random_number()
        consumable: RtpParameters = marshal.loads(self.consumable_blob)
        mapped = tuple(base + index for index in range(len(self.mapping_encodings)))
        for encoding, ssrc in zip(consumable["encodings"], mapped, strict=True):
            encoding["ssrc"] = ssrc
        if cname is not None:
            consumable["rtcp"]["cname"] = cname
        return self.params(cname, ssrcs, rtx_ssrcs), consumable, mapped


def _abstract(rtp_parameters: Any, pipe: bool) -> tuple[Any, tuple[int, ...], tuple[int, ...],
                                                         tuple[int, ...], tuple[int, ...],
                                                         str | None]:
    """``(key shape, SSRC slots, SSRCs, RTX slots, RTX SSRCs, CNAME)``: the parameters with
    the values each endpoint draws for itself taken out, and those values. Only values whose
    every use in the negotiation is a copy are taken: uint32 SSRCs other than 0 (validation
    asks only for a number, the mapping copies a truthy one) and a string CNAME (it only
    chooses the transport's CNAME). Pipe transports keep theirs (nothing taken)."""
    if pipe or type(rtp_parameters) is not dict:
        return rtp_parameters, (), (), (), (), None
    shape = rtp_parameters
    ssrc_slots: list[int] = []
    ssrcs: list[int] = []
    rtx_slots: list[int] = []
    rtx_ssrcs: list[int] = []
    encodings = rtp_parameters.get("encodings")
    if type(encodings) is list:
        marked: list[Any] = []
        for index, encoding in enumerate(encodings):
            if type(encoding) is dict:
                ssrc = encoding.get("ssrc")
                rtx = encoding.get("rtx")
                rtx_ssrc = rtx.get("ssrc") if type(rtx) is dict else None
                if type(ssrc) is int and 0 < ssrc <= _U32:
                    encoding = {**encoding, "ssrc": _MARK}
                    ssrc_slots.append(index)
                    ssrcs.append(ssrc)
                if type(rtx_ssrc) is int and 0 < rtx_ssrc <= _U32:
                    encoding = {**encoding, "rtx": {**rtx, "ssrc": _MARK}}  # type: ignore[dict-item]
                    rtx_slots.append(index)
                    rtx_ssrcs.append(rtx_ssrc)
            marked.append(encoding)
        if ssrc_slots or rtx_slots:
            shape = {**shape, "encodings": marked}
    cname = None
    rtcp = rtp_parameters.get("rtcp")
    if type(rtcp) is dict and type(rtcp.get("cname")) is str:
        cname = rtcp["cname"]
        shape = {**shape, "rtcp": {**rtcp, "cname": _MARK}}
    return shape, tuple(ssrc_slots), tuple(ssrcs), tuple(rtx_slots), tuple(rtx_ssrcs), cname


def produce_plan(transport: Transport, kind: MediaKind, rtp_parameters: Any) -> tuple[
        RtpParameters, RtpParameters, RtpMapping, tuple[int, ...], ProducePlan | None,
        tuple[Any, ...]]:
    """``(params, consumable, mapping, mapped SSRCs, plan, plan values)`` of a produce, as
    ``create_producer`` computed them: from a plan when parameters of this shape (equal but
    for the endpoint's SSRCs and CNAME) were negotiated before on this router, else through
    ``ortc`` (the plan is then kept; None if it cannot be). ``plan values`` are the endpoint's
    SSRCs, its RTX SSRCs and the transport's CNAME (when the plan writes it), in that order:
    what a request's template writes besides the producer id and the mapped SSRCs."""
    router = transport._router
    pipe = transport.type == "pipe"
    shape, ssrc_slots, ssrcs, rtx_slots, rtx_ssrcs, given_cname = _abstract(rtp_parameters,
                                                                             pipe)
    blob = _key(shape)
    key = (kind, pipe, blob)
    cache: dict[Any, ProducePlan] = router._produce_plans
    plan = cache.get(key) if blob is not None else None
    if plan is not None:
        cname = None
        if not pipe:
            cname = transport._cname_for(given_cname if given_cname is not None else plan.cname)
        params, consumable, mapped = plan.results(cname, ssrcs, rtx_ssrcs)
        return (params, consumable, plan.mapping(mapped, ssrcs), mapped, plan,
                _plan_values(ssrcs, rtx_ssrcs, cname))
    params = ortc.validate_rtp_parameters(rtp_parameters)
    if not params.get("encodings"):
        params["encodings"] = [{}]
    given = (params.get("rtcp") or {}).get("cname")
    cname = None
    if not pipe:
        # One CNAME for every producer of a transport, as in mediasoup.
        cname = transport._cname_for(given)
        params["rtcp"] = {**(params.get("rtcp") or {}), "cname": cname}
    caps = router.rtp_capabilities
    params = ortc.negotiate_in_place(params, caps)  # params: our own copy
    mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    consumable = ortc.get_consumable_rtp_parameters(kind, params, caps, mapping)
    mapped = tuple(encoding["mappedSsrc"] for encoding in mapping["encodings"])
    if blob is None:
        return params, consumable, mapping, mapped, None, ()
    try:
        plan = ProducePlan(params, mapping, consumable, None if given_cname is not None
                           else given, ssrc_slots, rtx_slots)
    except ValueError:  # the validated copy holds something marshal refuses
        return params, consumable, mapping, mapped, None, ()
    if not _plan_holds(plan, kind, caps, rtp_parameters, pipe, cname,
                       (params, consumable, mapping, mapped, ssrcs, rtx_ssrcs)):
        return params, consumable, mapping, mapped, None, ()
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = plan
    return params, consumable, mapping, mapped, plan, _plan_values(ssrcs, rtx_ssrcs, cname)


def _plan_values(ssrcs: tuple[int, ...], rtx_ssrcs: tuple[int, ...],
                 cname: str | None) -> tuple[Any, ...]:
    return (*ssrcs, *rtx_ssrcs) if cname is None else (*ssrcs, *rtx_ssrcs, cname)


def _plan_holds(plan: ProducePlan, kind: MediaKind, caps: Any, given: Any, pipe: bool,
                cname: str | None, actual: tuple[Any, ...]) -> bool:
    """Whether the plan is what ``ortc`` gives for its shape whatever the values it writes in:
    filled with this call's values it gives this call's results exactly, and filled with
    other values it gives what ``ortc`` gives for those (the validation and negotiation run
    again on the parameters with other SSRCs and another CNAME; the mapping is the part
    that draws, so it is checked for this call's values)."""
    params, consumable, mapping, mapped, ssrcs, rtx_ssrcs = actual
    if not (_same(plan.params(cname, ssrcs, rtx_ssrcs), params)
            and _same(plan.mapping(mapped, ssrcs), mapping)):
        return False
    if pipe or not (plan.ssrc_slots or plan.rtx_slots or cname is not None):
        return True
    other_ssrcs = tuple(_U32 - 2 * index for index in range(len(ssrcs)))
    other_rtx = tuple(_U32 - 2 * index - 1 for index in range(len(rtx_ssrcs)))
    other_cname = "~" + (cname or "")
    other = marshal.loads(_dumps(given))
    for index, ssrc in zip(plan.ssrc_slots, other_ssrcs, strict=True):
        other["encodings"][index]["ssrc"] = ssrc
    for index, ssrc in zip(plan.rtx_slots, other_rtx, strict=True):
        other["encodings"][index]["rtx"]["ssrc"] = ssrc
    twin = ortc.validate_rtp_parameters(other)
    if not twin.get("encodings"):
        twin["encodings"] = [{}]
    twin["rtcp"] = {**(twin.get("rtcp") or {}), "cname": other_cname}
    twin = ortc.negotiate_in_place(twin, caps)
    twin_mapping = plan.mapping(mapped, other_ssrcs)
    twin_consumable = ortc.get_consumable_rtp_parameters(kind, twin, caps, twin_mapping)
    filled, filled_consumable, _ = _filled(plan, other_cname, other_ssrcs, other_rtx, mapped)
    return _same(filled, twin) and _same(filled_consumable, twin_consumable)


def _same(a: Any, b: Any) -> bool:
    """Equal plain data of the same types throughout (``True`` is not ``1`` here)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(v, b[k]) for k, v in a.items())
    if type(a) is list or type(a) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _filled(plan: ProducePlan, cname: str, ssrcs: tuple[int, ...], rtx_ssrcs: tuple[int, ...],
            mapped: tuple[int, ...]) -> tuple[RtpParameters, RtpParameters, tuple[int, ...]]:
    """The plan's results with given mapped SSRCs (no random draw)."""
    consumable: RtpParameters = marshal.loads(plan.consumable_blob)
    for encoding, ssrc in zip(consumable["encodings"], mapped, strict=True):
        encoding["ssrc"] = ssrc
    consumable["rtcp"]["cname"] = cname
    return plan.params(cname, ssrcs, rtx_ssrcs), consumable, mapped


class ConsumePlan:
    """A (non-pipe) consumer's RTP parameters for one endpoint's capabilities and one shape of
    consumable parameters, without what differs between consumes of that shape: the random
    SSRC of its one encoding (and its RTX), its MID and the producer's CNAME; the consumable
    encodings (their mapped SSRCs left to each producer); and the templates of its request.

    A consume request's template values are (consumer id, MID, SSRC[, RTX SSRC], producer id,
    the producer's mapped SSRCs (one per ``ssrc_slots``)[, CNAME]): :meth:`values` lays them
    out, :meth:`filled` and :meth:`encodings` read them back."""

    __slots__ = ("params_blob", "rtx", "cname", "encodings_blob", "ssrc_slots", "templates")

    def __init__(self, params: RtpParameters, consumable: RtpParameters,
                 ssrc_slots: tuple[int, ...], cname: bool) -> None:
        self.params_blob = _dumps(params)
        self.rtx = "rtx" in params["encodings"][0]
        self.cname = cname
        """Whether the CNAME is the producer's (written in per call)."""
        self.encodings_blob = _dumps(consumable.get("encodings") or [])
        self.ssrc_slots = ssrc_slots
        """Consumable encodings whose ``ssrc`` is the producer's (written in per call)."""
        self.templates: dict[Any, Any] = {}

    def results(self, cname: str | None) -> RtpParameters:
        """Fresh consumer RTP parameters with a newly drawn SSRC (and RTX SSRC after it) and
        the producer's CNAME."""
        params: RtpParameters = marshal.loads(self.params_blob)
        encoding = params["encodings"][0]
        encoding["ssrc"] = ssrc = ortc.generate_random_number()
        if self.rtx:
            encoding["rtx"]["ssrc"] = ssrc + 1
        if self.cname:
            params["rtcp"]["cname"] = cast(str, cname)
        return params

    def values(self, consumer_id: str, params: RtpParameters, producer_id: str,
               ssrcs: tuple[int, ...], cname: str | None) -> tuple[Any, ...]:
        """A consume request's template values (see the class)."""
        encoding = params["encodings"][0]
        head = ((consumer_id, params["mid"], encoding["ssrc"], encoding["rtx"]["ssrc"])
                if self.rtx else (consumer_id, params["mid"], encoding["ssrc"]))
        return (*head, producer_id, *ssrcs) if not self.cname else (
            *head, producer_id, *ssrcs, cname)

    def filled(self, values: tuple[Any, ...]) -> RtpParameters:
        """The consumer parameters with ``values``' MID, SSRCs and CNAME in place."""
        params: RtpParameters = marshal.loads(self.params_blob)
        encoding = params["encodings"][0]
        encoding["ssrc"] = values[2]
        if self.rtx:
            encoding["rtx"]["ssrc"] = values[3]
        if self.cname:
            params["rtcp"]["cname"] = values[-1]
        params["mid"] = values[1]
        return params

    def producer_id(self, values: tuple[Any, ...]) -> str:
        """The producer id among ``values``."""
        return cast(str, values[4 if self.rtx else 3])

    def encodings(self, values: tuple[Any, ...]) -> list[Any]:
        """The consumable encodings with ``values``' mapped SSRCs in place."""
        encodings: list[Any] = marshal.loads(self.encodings_blob)
        start = 5 if self.rtx else 4
        for index, ssrc in zip(self.ssrc_slots, values[start:start + len(self.ssrc_slots)],
                               strict=True):
            encodings[index]["ssrc"] = ssrc
        return encodings


class ConsumableShape:
    """A producer's consumable parameters without the values each producer has of its own
    (the mapped SSRCs of its encodings, its CNAME): the key its consume plans share with the
    producers of the same shape, and those values. Made once per producer."""

    __slots__ = ("key", "ssrc_slots", "ssrcs", "cname")

    def __init__(self, consumable: Any) -> None:
        shape = consumable
        ssrc_slots: list[int] = []
        ssrcs: list[int] = []
        cname = None
        if type(consumable) is dict:
            encodings = consumable.get("encodings")
            if type(encodings) is list:
                marked: list[Any] = []
                for index, encoding in enumerate(encodings):
                    if type(encoding) is dict:
                        ssrc = encoding.get("ssrc")
                        if type(ssrc) is int and 0 < ssrc <= _U32:
                            encoding = {**encoding, "ssrc": _MARK}
                            ssrc_slots.append(index)
                            ssrcs.append(ssrc)
                    marked.append(encoding)
                if ssrc_slots:
                    shape = {**shape, "encodings": marked}
            rtcp = consumable.get("rtcp")
            if type(rtcp) is dict and type(rtcp.get("cname")) is str:
                cname = rtcp["cname"]
                shape = {**shape, "rtcp": {**rtcp, "cname": _MARK}}
        try:
            # Version 2: no references nor interned strings in the bytes, which would
            # differ between equal parameters made by ortc and by a plan's marshal.loads.
            self.key: bytes | None = marshal.dumps(shape, 2)
        except ValueError:  # not plain data: no key
            self.key = None
        """``marshal`` bytes of the shape, None when it is not plain data."""
        self.ssrc_slots = tuple(ssrc_slots)
        self.ssrcs = tuple(ssrcs)
        self.cname: str | None = cname

    def with_values(self, consumable: Any, ssrcs: tuple[int, ...], cname: str | None) -> Any:
        """A copy of ``consumable`` (of this shape) with other SSRCs and CNAME."""
        other = marshal.loads(_dumps(consumable))
        for index, ssrc in zip(self.ssrc_slots, ssrcs, strict=True):
            other["encodings"][index]["ssrc"] = ssrc
        if self.cname is not None:
            other["rtcp"]["cname"] = cname
        return other


def _shape_of(producer: Producer) -> ConsumableShape:
    shape: ConsumableShape | None = producer._consumable_shape
    if shape is None:
        shape = producer._consumable_shape = ConsumableShape(producer.consumable_rtp_parameters)
    return shape


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= CONSUME_CACHE_MAX:
        cache.clear()
    cache[key] = value


def consume_plan(producer: Producer, rtp_capabilities: Any, enable_rtx: bool
                 ) -> tuple[RtpParameters, ConsumePlan | None, ConsumableShape]:
    """``(rtp_parameters, plan, shape)`` of a non-pipe consume of ``producer`` (no MID yet):
    from a plan when these capabilities consumed a producer of the same shape (equal
    consumable parameters but for their mapped SSRCs and CNAME) before, else
    through ``ortc`` (the plan is then kept when it can be, see :func:`_consume_plan_holds`).
    ``shape`` holds the producer's own values the request's template writes."""
    shape = _shape_of(producer)
    blob = _key(rtp_capabilities)
    key = (bool(enable_rtx), shape.key, blob)
    cache: dict[Any, ConsumePlan] = _consume_cache
    plan = cache.get(key) if blob is not None and shape.key is not None else None
    if plan is not None:
        return plan.results(shape.cname), plan, shape
    consumable = producer.consumable_rtp_parameters
    twin = None
    if blob is not None and shape.key is not None and (shape.ssrc_slots
                                                       or shape.cname is not None):
        # The check's own negotiation (other SSRCs and CNAME) draws its random SSRC first,
        # so that the consumer's is the last one drawn, as without the cache.
        other_ssrcs = tuple(_U32 - 2 * index for index in range(len(shape.ssrcs)))
        other_cname = "~" + (shape.cname or "")
        try:
            other = shape.with_values(consumable, other_ssrcs, other_cname)
            twin = (other, ortc.get_consumer_rtp_parameters(
                consumable_rtp_parameters=other, remote_rtp_capabilities=rtp_capabilities,
                pipe=False, enable_rtx=enable_rtx), other_ssrcs, other_cname)
        except Exception:  # noqa: BLE001 (the real call below raises what it raises)
            twin = None
    # get_consumer_rtp_parameters validates the capabilities (whole) before anything else.
    params = ortc.get_consumer_rtp_parameters(
        consumable_rtp_parameters=consumable, remote_rtp_capabilities=rtp_capabilities,
        pipe=False, enable_rtx=enable_rtx)
    if blob is None or shape.key is None or len(params["encodings"]) != 1:
        return params, None, shape
    try:
        plan = ConsumePlan(params, consumable, shape.ssrc_slots, shape.cname is not None)
    except ValueError:
        return params, None, shape
    if not _consume_plan_holds(plan, shape, consumable, params, twin):
        return params, None, shape
    _remember(cache, key, plan)
    return params, plan, shape


def _consume_plan_holds(plan: ConsumePlan, shape: ConsumableShape, consumable: Any,
                        params: RtpParameters, twin: tuple[Any, Any, tuple[int, ...], str] | None
                        ) -> bool:
    """Whether the plan is what ``ortc`` gives for its shape whatever the values it writes
    in: filled with this call's values it gives this call's parameters and the producer's
    consumable encodings exactly, and filled with another producer's (other mapped SSRCs,
    another CNAME) what ``ortc`` gave for those (``twin``: the other consumable parameters,
    their result, those SSRCs and that CNAME; None when the shape has no such values, or
    the negotiation failed)."""
    def holds(consumable: Any, params: RtpParameters, ssrcs: tuple[int, ...],
              cname: str | None) -> bool:
        values = plan.values("", {**params, "mid": ""}, "", ssrcs, cname)
        filled = plan.filled(values)
        del filled["mid"]
        return _same(filled, params) and _same(plan.encodings(values),
                                               consumable.get("encodings") or [])

    if not holds(consumable, params, shape.ssrcs, shape.cname):
        return False
    if not (shape.ssrc_slots or shape.cname is not None):
        return True
    return twin is not None and holds(*twin)


def can_consume(producer: Producer, rtp_capabilities: Any) -> bool:
    """``ortc.can_consume(producer.consumable_rtp_parameters, rtp_capabilities)``, remembered
    for producers of the same shape and capabilities that repeat (in the consume
    cache, under ``(None, shape key, capabilities key)``): the answer reads only the
    consumable codecs, which the shape holds whole.

    Raises as ``ortc.can_consume`` does for invalid capabilities; those are never kept."""
    shape = _shape_of(producer)
    blob = _key(rtp_capabilities)
    cache: dict[Any, Any] = _consume_cache
    key = (None, shape.key, blob)
    known = cache.get(key) if blob is not None and shape.key is not None else None
    if known is not None:
        return bool(known)
    result = ortc.can_consume(producer.consumable_rtp_parameters, rtp_capabilities)
    if blob is not None and shape.key is not None:
        _remember(cache, key, result)
    return result
