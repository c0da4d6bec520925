"""``Router.pipe_to_router``: one PipeTransport pair per router pair, pipe consumer/producer.

The pair is created once and cached on both routers (keyed by the other router's id); when
either transport closes, the other is closed and both caches forget the pair.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .errors import InvalidStateError

if TYPE_CHECKING:
    from .pipe_transport import PipeTransport
    from .router import Router
    from .transport_child import TransportChild

__all__ = ["pipe_to_router"]

logger = logging.getLogger(__name__)


async def _pipe_pair(local: Router, remote: Router, options: dict[str, Any]
                     ) -> tuple[PipeTransport, PipeTransport]:
    """The cached connected pair between ``local`` and ``remote``, created if missing."""
    future = local._pipe_pairs.get(remote.id)
    if future is None:
        future = asyncio.get_running_loop().create_future()
        local._pipe_pairs[remote.id] = future
        remote._pipe_pairs[local.id] = future
        try:
            pair = await _create_pair(local, remote, options)
        except BaseException as exc:
            local._pipe_pairs.pop(remote.id, None)
            remote._pipe_pairs.pop(local.id, None)
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters re-raise it themselves
            raise
        future.set_result({local.id: pair[0], remote.id: pair[1]})
    pairs = await asyncio.shield(future)
    return pairs[local.id], pairs[remote.id]


async def _create_pair(local: Router, remote: Router, options: dict[str, Any]
                       ) -> tuple[PipeTransport, PipeTransport]:
    results = await asyncio.gather(local.create_pipe_transport(**options),
                                   remote.create_pipe_transport(**options),
                                   return_exceptions=True)
    created = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        for transport in created:
            transport.close()
        raise errors[0]
    local_pipe, remote_pipe = created
    try:
        await asyncio.gather(
            local_pipe.connect(ip=remote_pipe.tuple["localAddress"],
                               port=remote_pipe.tuple["localPort"],
                               srtp_parameters=remote_pipe.srtp_parameters),
            remote_pipe.connect(ip=local_pipe.tuple["localAddress"],
                                port=local_pipe.tuple["localPort"],
                                srtp_parameters=local_pipe.srtp_parameters))
    except BaseException:
        local_pipe.close()
        remote_pipe.close()
        raise

    def forget() -> None:
        local._pipe_pairs.pop(remote.id, None)
        remote._pipe_pairs.pop(local.id, None)

    def close_remote() -> None:
        remote_pipe.close()
        forget()

    def close_local() -> None:
        local_pipe.close()
        forget()

    local_pipe.observer.on("close", close_remote)
    remote_pipe.observer.on("close", close_local)
    return local_pipe, remote_pipe


def _close_failed_pair(what: str, *children: TransportChild | None) -> None:
    """Piping failed half-way (or was cancelled): log it and close what was already made."""
    logger.exception("pipe_to_router() | pipe %s pair failed", what)
    for child in children:
        if child is not None:
            child.close()


async def pipe_to_router(local: Router, remote: Router, *, producer_id: str | None,
                         data_producer_id: str | None, listen_info: dict[str, Any],
                         enable_sctp: bool, num_sctp_streams: dict[str, int], enable_rtx: bool,
                         enable_srtp: bool) -> dict[str, Any]:
    """See ``Router.pipe_to_router`` (arguments already checked there)."""
    options = {"listen_info": listen_info, "enable_sctp": enable_sctp,
               "num_sctp_streams": num_sctp_streams, "enable_rtx": enable_rtx,
               "enable_srtp": enable_srtp}
    local_pipe, remote_pipe = await _pipe_pair(local, remote, options)
    if producer_id is not None:
        producer = local._producers[producer_id]
        pipe_consumer = pipe_producer = None
        try:
            pipe_consumer = await local_pipe.consume(producer_id=producer_id)
            pipe_producer = await remote_pipe.produce(
                id=producer.id, kind=pipe_consumer.kind,
                rtp_parameters=pipe_consumer.rtp_parameters,
                paused=pipe_consumer.producer_paused, app_data=producer.app_data)
            if producer.closed:
                raise InvalidStateError("original Producer closed")
            if pipe_producer.paused != producer.paused:
                await (pipe_producer.pause() if producer.paused else pipe_producer.resume())
        except BaseException:
            _close_failed_pair("consumer/producer", pipe_consumer, pipe_producer)
            raise
        consumer, piped = pipe_consumer, pipe_producer
        consumer.observer.on("close", piped.close)
        consumer.observer.on("pause", piped.pause)
        consumer.observer.on("resume", piped.resume)
        piped.observer.on("close", consumer.close)
        return {"pipeConsumer": consumer, "pipeProducer": piped}
    assert data_producer_id is not None
    data_producer = local._data_producers[data_producer_id]
    pipe_data_consumer = pipe_data_producer = None
    try:
        pipe_data_consumer = await local_pipe.consume_data(data_producer_id=data_producer_id)
        pipe_data_producer = await remote_pipe.produce_data(
            id=data_producer.id, sctp_stream_parameters=pipe_data_consumer.sctp_stream_parameters,
            label=pipe_data_consumer.label, protocol=pipe_data_consumer.protocol,
            app_data=data_producer.app_data)
        if data_producer.closed:
            raise InvalidStateError("original DataProducer closed")
    except BaseException:
        _close_failed_pair("data consumer/producer", pipe_data_consumer, pipe_data_producer)
        raise
    data_consumer, piped_data = pipe_data_consumer, pipe_data_producer
    data_consumer.observer.on("close", piped_data.close)
    piped_data.observer.on("close", data_consumer.close)
    return {"pipeDataConsumer": data_consumer, "pipeDataProducer": piped_data}
