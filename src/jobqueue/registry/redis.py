"""The Redis worker registry: one fleet view shared by several API processes.

Layout under a key prefix (``jobqueue:registry:`` by default):

- ``<prefix>seen``: a sorted set, worker id → when it was last seen (Unix seconds); the index
  for expiry (``ZRANGEBYSCORE``) and for listing.
- ``<prefix>worker:<id>``: a hash with the last report (JSON), ``last_seen`` and
  ``registered_at``.
- ``<prefix>command:<id>``: the command waiting for the worker's next heartbeat.

Writes are Lua scripts, so recording a heartbeat and taking its command is one atomic step
even with several API processes; the registrations and heartbeats arriving within 5 ms share
one pipelined round trip. The clock is Redis's own ``TIME`` (one clock for every
API process, whatever their skew); tests pass ``clock`` instead, and then the keys get no Redis
expiry, because Redis's real clock would disagree with the controlled one. With Redis time the
hashes also expire on their own after twice the TTL, so a fleet with no API left to sweep it
does not stay in Redis forever.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from jobqueue.brokers import redact_text, redact_url
from jobqueue.config import MAX_WORKERS, WORKER_TTL_S
from jobqueue.errors import ConfigError, RegistryUnavailable
from jobqueue.registry import (
    DRAINED_KEEP_S,
    Command,
    HeartbeatResult,
    WorkerInfo,
    WorkerReport,
    WorkerState,
    check_worker_id,
    drained_report,
    registry_full,
)

__all__ = ["DEFAULT_KEY_PREFIX", "RedisRegistry"]

DEFAULT_KEY_PREFIX = "jobqueue:registry:"
SOCKET_TIMEOUT_S = 5.0  # a fleet of thousands is one large reply
MAX_CONNECTIONS = 32
BATCH_WINDOW_S = 0.005

# Every script starts from the same "now": the caller's clock when given, else Redis TIME.
_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local ttl = tonumber(ARGV[2])
local function live(id)
  local seen = redis.call('ZSCORE', KEYS[1], id)
  return seen and tonumber(seen) > now - ttl
end
"""

# KEYS: seen, worker hash, command. ARGV: now, ttl, id, report, take command?, expire ms,
# max workers. A new id when the live workers number max workers is refused: {-1, ''}.
_RECORD = (
    _NOW
    + """
local known = live(ARGV[3]) and redis.call('EXISTS', KEYS[2]) == 1
if not known then
  local count = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.6f', now - ttl), '+inf')
  if count >= tonumber(ARGV[7]) then return {-1, ''} end
end
local stamp = string.format('%.6f', now)
if not known then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[2], 'registered_at', stamp)
end
redis.call('HSET', KEYS[2], 'report', ARGV[4], 'last_seen', stamp)
redis.call('ZADD', KEYS[1], stamp, ARGV[3])
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
local command = false
if known and ARGV[5] == '1' then
  command = redis.call('GET', KEYS[3])
  if command then redis.call('DEL', KEYS[3]) end
end
return {known and 1 or 0, command or ''}
"""
)

# KEYS: seen, worker hash, command. ARGV: now, ttl, id, command, expire ms.
_SEND_COMMAND = (
    _NOW
    + """
if not live(ARGV[3]) or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[4])
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
return 1
"""
)

# KEYS: seen, worker hash, command. ARGV: now, ttl, id.
_DEREGISTER = (
    _NOW
    + """
local was_live = live(ARGV[3]) and redis.call('EXISTS', KEYS[2]) == 1
redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2], KEYS[3])
return was_live and 1 or 0
"""
)

# KEYS: seen. ARGV: now, ttl. The ids of the live workers, in no order.
_LIVE_IDS = (
    _NOW
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.6f', now - ttl), '+inf')
"""
)

# KEYS: seen. ARGV: now, ttl, key prefix, the ids wanted. One flat reply: parsing thousands of
# replies to a pipeline of HGETALLs costs the client far more than this script costs Redis.
_LIST = (
    _NOW
    + """
local rows = {}
for n = 4, #ARGV do
  local id = ARGV[n]
  local w = redis.call('HMGET', ARGV[3] .. 'worker:' .. id, 'report', 'last_seen', 'registered_at')
  if w[1] and live(id) then
    local command = redis.call('GET', ARGV[3] .. 'command:' .. id) or ''
    table.insert(rows, id)
    table.insert(rows, w[1])
    table.insert(rows, w[2])
    table.insert(rows, w[3])
    table.insert(rows, command)
  end
end
return {string.format('%.6f', now), rows}
"""
)

# KEYS: seen. ARGV: now, ttl, key prefix.
_SWEEP = (
    _NOW
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - ttl))
for _, id in ipairs(expired) do
  redis.call('DEL', ARGV[3] .. 'worker:' .. id, ARGV[3] .. 'command:' .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #expired
"""
)


class RedisRegistry:
    """Workers in Redis, shared by every API process that uses the same URL and key prefix;
    at most ``max_workers`` live ones (a new id past that raises RegistryFull)."""

    def __init__(
        self,
        client: aioredis.Redis,
        ttl_s: float = WORKER_TTL_S,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        clock: Callable[[], float] | None = None,
        url: str = "redis://",
        max_workers: int = MAX_WORKERS,
    ) -> None:
        self._redis = client
        self._ttl_s = ttl_s
        self._max_workers = max_workers
        self._prefix = key_prefix
        self._clock = clock
        self._full_url = url
        self._seen_key = f"{key_prefix}seen"
        # Redis expiry is a backstop for a fleet nobody sweeps; it needs Redis's own clock.
        self._expire_ms = 0 if clock is not None else max(1, math.ceil(2 * ttl_s * 1000))
        self._record = _Pipeliner(client, client.register_script(_RECORD), BATCH_WINDOW_S)
        self._send_command = client.register_script(_SEND_COMMAND)
        self._deregister = client.register_script(_DEREGISTER)
        self._sweep = client.register_script(_SWEEP)
        self._list = client.register_script(_LIST)
        self._live_ids = client.register_script(_LIVE_IDS)

    @classmethod
    def from_url(
        cls,
        url: str,
        ttl_s: float = WORKER_TTL_S,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        clock: Callable[[], float] | None = None,
        max_workers: int = MAX_WORKERS,
    ) -> RedisRegistry:
        """Connect lazily to the Redis server ``url`` names (``redis://host:port/db``).

        A ``key_prefix`` query parameter (``redis://host/0?key_prefix=staging:``) overrides the
        ``key_prefix`` argument, so deployments sharing one Redis database stay apart.
        """
        client, url, key_prefix = redis_client(url, key_prefix, MAX_CONNECTIONS)
        return cls(
            client,
            ttl_s=ttl_s,
            key_prefix=key_prefix,
            clock=clock,
            url=url,
            max_workers=max_workers,
        )

    @property
    def ttl_s(self) -> float:
        """Seconds of silence after which a worker is expired."""
        return self._ttl_s

    async def register(self, worker_id: str, report: WorkerReport) -> bool:
        """Record the worker as seen now; True when it was not known before."""
        known, _ = await self._record_report(worker_id, report, take_command=False)
        return not known

    async def heartbeat(self, worker_id: str, report: WorkerReport) -> HeartbeatResult:
        """Record the worker as seen now and take the command waiting for it, atomically."""
        known, command = await self._record_report(worker_id, report, take_command=True)
        return HeartbeatResult(known=known, command=Command(command) if command else None)

    async def deregister(self, worker_id: str, drained: bool = False) -> bool:
        """Forget the worker and its waiting command (keep it listed as drained, with
        ``drained``); True when it was live."""
        if drained:
            return await self._keep_drained(worker_id)
        async with self._errors():
            removed = await self._deregister(
                keys=self._keys(worker_id), args=[self._now_arg(), self._ttl_s, worker_id]
            )
        return bool(removed)

    async def get(self, worker_id: str) -> WorkerInfo | None:
        """The live worker with this id, or None."""
        async with self._errors():
            now = await self._now()
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zscore(self._seen_key, worker_id)
                pipe.hgetall(self._worker_key(worker_id))
                pipe.get(self._command_key(worker_id))
                seen, fields, command = await pipe.execute()
        if seen is None or now - seen >= self._ttl_s:
            return None
        return self._info(worker_id, fields, command, now)

    async def workers(self, after: str = "", limit: int | None = None) -> list[WorkerInfo]:
        """The live workers whose id sorts after ``after``, ordered by id, at most ``limit``.

        The ids are ordered here, not by Lua, whose string order follows the server's locale.
        """
        async with self._errors():
            ids = sorted(
                await self._live_ids(keys=[self._seen_key], args=[self._now_arg(), self._ttl_s])
            )
            start = bisect.bisect_right(ids, after) if after else 0
            page = ids[start:] if limit is None else ids[start : start + limit]
            if not page:
                return []
            now_text, rows = await self._list(
                keys=[self._seen_key], args=[self._now_arg(), self._ttl_s, self._prefix, *page]
            )
        now = float(now_text)
        infos = [
            self._worker_info(
                rows[n], rows[n + 1], float(rows[n + 2]), rows[n + 3], rows[n + 4], now
            )
            for n in range(0, len(rows), 5)
        ]
        return sorted(infos, key=lambda info: info.worker_id)

    async def send_command(self, worker_id: str, command: Command) -> bool:
        """Leave a command for the worker's next heartbeat; False when it is not live (or
        drained)."""
        info = await self.get(worker_id)
        if info is None or info.state is WorkerState.DRAINED:
            return False
        async with self._errors():
            stored = await self._send_command(
                keys=self._keys(worker_id),
                args=[self._now_arg(), self._ttl_s, worker_id, str(command), self._expire_ms],
            )
        return bool(stored)

    async def sweep(self) -> int:
        """Remove the expired workers and their waiting commands; how many were removed."""
        async with self._errors():
            removed = await self._sweep(
                keys=[self._seen_key], args=[self._now_arg(), self._ttl_s, self._prefix]
            )
        return int(removed)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._record.close()
        await self._redis.aclose()

    async def _keep_drained(self, worker_id: str) -> bool:
        """List the worker as drained for ``DRAINED_KEEP_S``: its index score (when it expires
        from every read, ``ttl_s`` after it) is moved that far ahead; its hash keeps the true
        last-seen time that people are shown."""
        info = await self.get(worker_id)
        if info is None:
            return False
        await self._record_report(worker_id, drained_report(info.report), take_command=True)
        async with self._errors():
            now = await self._now()
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self._seen_key, {worker_id: now + DRAINED_KEEP_S - self._ttl_s}, xx=True)
                if self._expire_ms:
                    pipe.pexpire(self._worker_key(worker_id), self._expire_ms + _ms(DRAINED_KEEP_S))
                await pipe.execute()
        return True

    async def _record_report(
        self, worker_id: str, report: WorkerReport, take_command: bool
    ) -> tuple[bool, str]:
        check_worker_id(worker_id)
        args: list[str | bytes | float] = [
            self._now_arg(),
            self._ttl_s,
            worker_id,
            orjson.dumps(report.to_dict()),
            "1" if take_command else "0",
            self._expire_ms,
            self._max_workers,
        ]
        async with self._errors():
            known, command = await self._record.call(self._keys(worker_id), args)
        if known == -1:
            raise registry_full(self._max_workers)
        return bool(known), str(command)

    def _info(
        self, worker_id: str, fields: dict[str, str], command: str | None, now: float
    ) -> WorkerInfo | None:
        if "report" not in fields:  # removed between reading the index and the hash
            return None
        return self._worker_info(
            worker_id,
            fields["report"],
            float(fields["last_seen"]),
            fields["registered_at"],
            command,
            now,
        )

    def _worker_info(
        self,
        worker_id: str,
        report: str,
        last_seen: float,
        registered_at: str,
        command: str | None,
        now: float,
    ) -> WorkerInfo:
        return WorkerInfo(
            worker_id=worker_id,
            report=WorkerReport.from_dict(orjson.loads(report)),
            last_seen_unix=last_seen,
            registered_at_unix=float(registered_at),
            seen_ago_s=max(0.0, now - last_seen),
            pending_command=Command(command) if command else None,
        )

    async def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        seconds, micros = await self._redis.time()
        return seconds + micros / 1_000_000

    def _now_arg(self) -> str:
        return "" if self._clock is None else repr(self._clock())

    def _keys(self, worker_id: str) -> list[str]:
        return [self._seen_key, self._worker_key(worker_id), self._command_key(worker_id)]

    def _worker_key(self, worker_id: str) -> str:
        return f"{self._prefix}worker:{worker_id}"

    def _command_key(self, worker_id: str) -> str:
        return f"{self._prefix}command:{worker_id}"

    def _errors(self) -> contextlib.AbstractAsyncContextManager[None]:
        return redis_errors("worker registry", self._full_url)


_Call = tuple[list[str], list[Any], "asyncio.Future[Any]"]


class _Pipeliner:
    """Runs a script for every caller, sending the calls made within ``window_s`` in one pipeline.

    At a thousand heartbeats a second, a round trip (two system calls and the client's
    per-command work) for each costs the API process about twice the CPU of the same calls
    pipelined five milliseconds at a time (measured with benchmarks/heartbeat.py). A heartbeat
    every few seconds does not mind waiting five milliseconds more.
    """

    MAX_BATCH = 500

    def __init__(self, client: aioredis.Redis, script: AsyncScript, window_s: float) -> None:
        self._window_s = window_s
        self._client = client
        self._script = script
        self._waiting: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply for these keys and arguments; raises what Redis raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((keys, args, future))
        if len(self._waiting) == 1:
            loop.call_later(self._window_s, self._send)
        return await future

    async def close(self) -> None:
        """Fail the calls still waiting and stop the batches in flight."""
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        batch, self._waiting = self._waiting, []
        _fail(batch, RedisConnectionError("the registry was closed"))

    def _send(self) -> None:
        batch = self._waiting[: self.MAX_BATCH]
        self._waiting = self._waiting[self.MAX_BATCH :]
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._send)
        task = asyncio.create_task(self._execute(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _execute(self, batch: list[_Call]) -> None:
        try:
            try:
                replies = await self._pipeline(batch)
            except NoScriptError:  # Redis restarted or its script cache was flushed
                self._script.sha = await self._client.script_load(self._script.script)
                replies = await self._pipeline(batch)
        except asyncio.CancelledError:
            _fail(batch, RedisConnectionError("the registry was closed"))
            raise
        except Exception as exc:  # each caller gets the error, translated where it awaits
            _fail(batch, exc)
            return
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                future.set_result(reply)

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            return await pipe.execute()


def _fail(batch: list[_Call], exc: BaseException) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(exc)


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


@contextlib.asynccontextmanager
async def redis_errors(what: str, url: str) -> AsyncIterator[None]:
    """Translate the Redis client's errors into the project's: ``RegistryUnavailable`` naming
    ``what`` failed and the Redis ``url`` (its password hidden, in the error's text too)."""
    try:
        yield
    except RedisError as exc:
        why = redact_text(str(exc), url)
        raise RegistryUnavailable(f"{what} at {redact_url(url)} failed: {why}") from exc


def redis_client(
    url: str, key_prefix: str, max_connections: int
) -> tuple[aioredis.Redis, str, str]:
    """A lazily connecting client of the Redis ``url`` names, the URL without its
    ``key_prefix`` query parameter, and the prefix (that parameter's, else ``key_prefix``).

    Its pool holds at most ``max_connections``: a burst of calls waits for a free connection
    instead of failing, as the default pool's "Too many connections" would. A URL the client
    cannot read is a ConfigError naming it, its password hidden.
    """
    url, key_prefix = _split_key_prefix(url, key_prefix)
    try:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=SOCKET_TIMEOUT_S,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
        )
    except ValueError as exc:  # the URL's port, database or options; the text may quote it
        why = redact_text(str(exc), url)
        raise ConfigError(f"invalid registry URL {redact_url(url)!r}: {why}") from None
    return aioredis.Redis.from_pool(pool), url, key_prefix


def _split_key_prefix(url: str, default: str) -> tuple[str, str]:
    """The URL without its ``key_prefix`` query parameter, and the prefix it named."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "key_prefix"]
    if not prefixes:
        return url, default
    rest = urlencode([(name, value) for name, value in query if name != "key_prefix"])
    return urlunsplit(parts._replace(query=rest)), prefixes[-1]
