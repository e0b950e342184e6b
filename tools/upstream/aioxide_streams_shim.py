"""aiohttp.streams look-alike over aioxide.streams (AIOXIDE_STREAMS_SHIM=1).

aiohttp's tests build StreamReader(protocol, limit, *, timer=None, loop=...) and
feed it with feed_data/feed_eof; aioxide's StreamReader(raw, loop, bridge, *,
limit=...) supports the same feeding when raw is None.  This adapter only maps
the constructor so the public reading methods can be compared.
"""
import aioxide.streams as _s
from aioxide.streams import *  # noqa
from aioxide.streams import EMPTY_PAYLOAD, EmptyStreamReader, AsyncStreamIterator, ChunkTupleAsyncStreamIterator, EofStream  # noqa

for _n in dir(_s):
    if not _n.startswith("__"):
        globals().setdefault(_n, getattr(_s, _n))


class StreamReader(_s.StreamReader):
    __slots__ = ("_protocol",)

    def __init__(self, protocol, limit=2**16, *, timer=None, loop=None):
        super().__init__(None, loop, None, limit=limit)
        self._protocol = protocol

StreamReader.__module__ = "aioxide.streams"
