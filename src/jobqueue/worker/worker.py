"""The worker: takes deliveries from the broker and lives each one as receive → run → settle."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from jobqueue import __version__, config
from jobqueue.brokers import Broker, Delivery, SkipsTypes
from jobqueue.errors import BrokerError, BrokerUnavailable, ConfigError, DecodeError, UnknownJobType
from jobqueue.handlers import Handler, Handlers, JobContext
from jobqueue.job import Job
from jobqueue.limits.gate import Deferral, LimitGate, Pass
from jobqueue.registry.fleet import ServedTypes
from jobqueue.telemetry.jobfields import CURRENT_JOB
from jobqueue.telemetry.spans import worker_tracing
from jobqueue.worker import settle, unserved
from jobqueue.worker.backoff import RetryPolicy
from jobqueue.worker.execute import HandlerThreads, execute
from jobqueue.worker.outcome import InvalidResult, Outcome, Reporting
from jobqueue.worker.settle import Ack, DeadLetter, HandBack, HandOn, RetryLater
from jobqueue.worker.signals import FlightSignals, RecentIds
from jobqueue.worker.stats import WorkerStats
from jobqueue.worker.status import StatusReporter

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

log = logging.getLogger("jobqueue.worker")

JOB_LOG_LEVEL = logging.DEBUG
"""The level of the per-job lines ("processing job ...", "job ... succeeded"): DEBUG, so that
a busy worker does not spend a third of its time writing them; ``--log-level DEBUG`` shows
them, or set this to ``logging.INFO`` to have them at INFO as before."""

SETTLING_PREFETCH_FACTOR = 4
"""With status events, the broker may hand over ``concurrency`` times this many deliveries: a
job whose handler has finished waits for its final events' confirm before its ack, and must not
hold back the next jobs meanwhile. (The price, as with Celery's default prefetch multiplier of
4: a worker busy with long jobs holds up to three times ``concurrency`` more, waiting.)"""

SETTLING_PREFETCH_MIN = 128
"""With status events, the prefetch is at least this: the jobs waiting for their events' confirm
must cover the confirm's latency (tens of ms on a busy disk), else a small ``concurrency``
caps the rate at prefetch / latency (with 8: 32 deliveries, about 2,000 no-op jobs/s here)."""

BURST_POLL_S = 0.05
BURST_IDLE_POLLS = 6
CONSUME_RETRY_S = 1.0
CONNECT_RETRY_MIN_S = 1.0
CONNECT_RETRY_MAX_S = 30.0


class State(enum.StrEnum):
    """What the worker is doing, as its heartbeats report it."""

    ACTIVE = "active"
    PAUSED = "paused"
    DRAINING = "draining"


class ControlLink(Protocol):
    """The worker's link to the control plane: registration, heartbeats, deregistration."""

    async def start(self) -> None:
        """Register and start heartbeats in the background; never raises, never blocks."""

    async def stop(self, drained: bool = False) -> None:
        """Stop heartbeats and deregister, best effort; ``drained`` after a drain."""


@dataclass(eq=False)
class Flight:
    """One delivery in the worker's hands, from receipt until it is settled."""

    delivery: Delivery
    job_id: str
    settling: bool = False
    signals: FlightSignals | None = None
    in_async_handler: bool = False  # awaiting an ``async def`` handler: a cancel may interrupt it
    cancel_sent: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """A delivery decoded into a job that has a handler."""

    job: Job
    handler: Handler


class Worker:
    """Consumes jobs from a broker and runs them with their handlers.

    ``await run()`` consumes until ``stop()``/``request_stop()``/``drain()``, or, with
    ``burst=True``, until the queue is empty (no job ready or delayed) and nothing is in flight.
    Burst mode polls ``broker.depth()`` every 50 ms and stops after ``BURST_IDLE_POLLS`` idle
    polls in a row with no delivery received between them.

    With a ``status`` reporter, the worker publishes each job's lifecycle events (running,
    progress, failed attempt, retrying, succeeded with the handler's result, dead, cancelled);
    the events that end an attempt are durable before the delivery is settled. A result larger
    than ``max_result_bytes`` (as JSON) or not JSON at all fails the attempt.

    :meth:`cancel_jobs` (from the control plane's heartbeat replies) stops jobs: one running
    here sees ``ctx.cancelled`` (an ``async def`` handler is also interrupted with
    ``CancelledError`` at its next ``await``), and one delivered later is skipped, acked
    unrun. A cancelled job is not retried.

    At most ``concurrency`` handlers run at once. The broker's prefetch bounds the jobs in
    flight: ``concurrency``, times ``SETTLING_PREFETCH_FACTOR`` (at least
    ``SETTLING_PREFETCH_MIN``) with status events (a job then
    waits for its final events' confirm before its ack, and the next jobs start meanwhile);
    ``prefetch`` sets it outright (``concurrency`` itself suits fleets of long jobs: no worker
    then holds jobs it has not started).
    ``async def`` handlers run on the event loop, plain ``def`` ones in a pool of ``concurrency``
    threads.
    A job under a fleet-wide limit (its handler's or its own, :mod:`jobqueue.limits`) asks
    ``limits`` before its handler starts; over the limit, it is put back unrun with no attempt
    counted (state ``waiting``) and its slot here is free at once. Without ``limits``, the
    worker keeps the limits to itself.
    With a ``tracer_provider``, each run of a job and each settlement is a span
    (:mod:`jobqueue.telemetry.spans`); without one, nothing is traced.
    Call the control methods (``pause``, ``resume``, ``drain``, ``request_stop``) from the event
    loop.
    """

    def __init__(
        self,
        broker: Broker,
        handlers: Handlers,
        *,
        concurrency: int = config.CONCURRENCY,
        retry: RetryPolicy | None = None,
        grace_s: float = config.SHUTDOWN_GRACE_S,
        worker_id: str | None = None,
        queue: str = config.QUEUE,
        burst: bool = False,
        status: StatusReporter | None = None,
        max_result_bytes: int = config.MAX_RESULT_BYTES,
        job_log_level: int = JOB_LOG_LEVEL,
        prefetch: int | None = None,
        unserved_timeout_s: float = unserved.UNSERVED_TIMEOUT_S,
        broker_identity: str = "",
        tracer_provider: TracerProvider | None = None,
        limits: LimitGate | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        if grace_s < 0:
            raise ConfigError(f"shutdown grace must not be negative, got {grace_s}s")
        if unserved_timeout_s < 0:
            raise ConfigError(f"unserved timeout must not be negative, got {unserved_timeout_s}s")
        self.worker_id = worker_id or str(uuid.uuid4())
        self.broker_identity = broker_identity
        self.concurrency = concurrency
        self.queue = queue
        self.burst = burst
        self._job_log_level = job_log_level
        self._broker = broker
        self._handlers = handlers
        self._own_types = frozenset(handlers.types())
        self._retry = retry or RetryPolicy()
        self._unserved_timeout_s = unserved_timeout_s
        self._fleet: ServedTypes | None = None
        self._unserved_log = unserved.LogThrottle()
        self._grace_s = grace_s
        self._threads = HandlerThreads(concurrency)
        self._slots = asyncio.Semaphore(concurrency)
        self._prefetch = prefetch or concurrency
        if status is not None and prefetch is None:
            self._prefetch = max(concurrency * SETTLING_PREFETCH_FACTOR, SETTLING_PREFETCH_MIN)
        if self._prefetch < concurrency:
            raise ConfigError(f"prefetch {self._prefetch} is below concurrency {concurrency}")
        self._status = status
        self._report = Reporting(self.worker_id, status, max_result_bytes)
        self._tracing = worker_tracing(tracer_provider, queue, self.worker_id)
        self._limits = limits or _local_limits(self.worker_id)
        self._skip = RecentIds()
        self._flights: dict[asyncio.Task[None], Flight] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._state = State.ACTIVE
        self._wakeup = asyncio.Event()
        self._wakeup.set()
        self._stopping = False
        self._drained = False
        self.refusal: str | None = None
        self._stop_requested = asyncio.Event()
        self._stop_requests = 0
        self._deadline: float | None = None
        self._grace: asyncio.Timeout | None = None
        self._running = False
        self._stopped = asyncio.Event()
        self._received = self._processed = self._failed = 0
        self._started_at_unix = time.time()

    # -- the worker's life ---------------------------------------------------------------------

    async def run(self, control: ControlLink | None = None) -> None:
        """Consume until stopped, then shut down in order; ``control`` is registered meanwhile.

        Shutdown order:
        1. stop consuming: ``broker.stop_consuming()`` ends the deliveries iterator, and a
           delivery that still arrives is handed back, so no new job starts;
        2. finish the jobs in flight, for up to ``grace_s`` (``drain()``: however long they take;
           another ``request_stop()``, a second signal, cuts the wait short);
        3. hand back the jobs still running: cancel them and ``release`` their deliveries, so
           that another worker runs them (a thread handler cannot be cancelled: it runs on,
           abandoned, and its result is ignored);
        4. deregister from the control plane;
        5. close the broker: whatever is still unsettled goes back to the queue.
        """
        self._running = True
        watcher = asyncio.create_task(self._stop_when_idle()) if self.burst else None
        try:
            if control is not None:
                await control.start()
            if not await self._connect():
                return
            if self._status is not None:
                await self._status.start()
            log.info("worker %s consuming from queue %r", self.worker_id, self.queue)
            await self._consume_until_stopped()
            await self._finish_in_flight()
        finally:
            await self._hand_back_running()
            await self._close(watcher, control)

    async def _connect(self) -> bool:
        """Connect to the broker, waiting out an outage; False when stopped before it came."""
        delay_s = CONNECT_RETRY_MIN_S
        while not self._stopping:
            try:
                await self._broker.connect()
                return True
            except BrokerUnavailable as exc:
                log.warning("broker unavailable (%s); trying again in %.0fs", exc, delay_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), delay_s)
                delay_s = min(delay_s * 2, CONNECT_RETRY_MAX_S)
        return False

    async def _consume_until_stopped(self) -> None:
        while not self._stopping:
            if self._state is State.PAUSED:
                await self._wakeup.wait()
                continue
            if self._background:  # a stop_consuming still under way would end the new session
                await asyncio.wait(list(self._background))
            await self._consume()

    async def _consume(self) -> None:
        """One consuming session: take deliveries until the broker's iterator ends."""
        try:
            async for delivery in self._broker.deliveries(self._prefetch):
                self._take(delivery)
        except BrokerError as exc:
            log.error("consuming failed: %s; trying again in %ss", exc, CONSUME_RETRY_S)
            await asyncio.sleep(CONSUME_RETRY_S)

    def _take(self, delivery: Delivery) -> None:
        self._received += 1
        flight = Flight(delivery, job_id=delivery.message_id)
        task = asyncio.create_task(self._process(flight))
        self._flights[task] = flight
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        flight = self._flights.pop(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job %s: unexpected error", flight.job_id, exc_info=task.exception())

    # -- one delivery: receive → run → settle ---------------------------------------------------

    async def _process(self, flight: Flight) -> None:
        """The life of one delivery: receive → run → settle."""
        try:
            received = self._receive(flight)
            if isinstance(received, Received):
                outcome = await self._run_in_slot(flight, received)
            else:
                outcome = received
        except asyncio.CancelledError:
            await self._settle(flight, Outcome(HandBack()))
            raise
        except Exception:  # a bug of ours: the delivery must not stay held here
            log.exception("job %s: unexpected error; handing it back", flight.job_id)
            outcome = Outcome(HandBack())
        flight.settling = True
        await self._settle(flight, outcome)

    def _receive(self, flight: Flight) -> Received | Outcome:
        """Decode the delivery and find its handler, or decide at once why it cannot run."""
        if self._state is not State.ACTIVE:
            return Outcome(HandBack())
        try:
            job = Job.decode(flight.delivery.body, flight.delivery.headers)
        except DecodeError as exc:
            return Outcome(settle.undecodable(str(exc), self.worker_id))
        flight.job_id = job.id
        CURRENT_JOB.set((job, self.worker_id))  # the log lines of this delivery's task name it
        if flight.delivery.death is not None:
            return self._report.dead_unrun(job, settle.worn(flight.delivery.death, self.worker_id))
        if job.id in self._skip:
            self._log_job("job %s was cancelled: skipped", job.id)
            return self._report.cancelled(job, "cancelled before it ran")
        try:
            return Received(job, self._handlers.get(job.type))
        except UnknownJobType:
            return self._unserved(job)

    def _unserved(self, job: Job) -> Outcome:
        """A job of a type without a handler here: hand it on, or dead-letter it at last."""
        decided = unserved.decide(
            job, self._fleet, timeout_s=self._unserved_timeout_s, worker_id=self.worker_id
        )
        if isinstance(decided, DeadLetter):
            return self._report.dead_unrun(job, decided)
        if decided.job.unserved_since is None:
            log.debug("job %s: no handler for type %r here; handed on", job.id, job.type)
        elif self._unserved_log.allows(job.type):
            log.warning(
                "no live worker serves job type %r (job %s waits since %s; dead-lettered after "
                "%.0fs without one)",
                *(job.type, job.id, decided.job.unserved_since, self._unserved_timeout_s),
            )
        return Outcome(decided)

    async def _run_in_slot(self, flight: Flight, received: Received) -> Outcome:
        """Run the handler once one of the ``concurrency`` slots is free and the fleet's
        limits let it start (else defer it: the slot is free again at once)."""
        async with self._slots:
            if self._state is not State.ACTIVE:  # paused or stopping while it waited
                return Outcome(HandBack())
            entered = await self._enter_limits(received)
            if isinstance(entered, Outcome):
                return entered
            try:
                if self._tracing is not None:
                    running = self._run(flight, received)
                    return await self._tracing.run(flight.delivery, received.job, running)
                return await self._run(flight, received)
            finally:
                if entered is not None:
                    self._limits.leave(entered)

    async def _enter_limits(self, received: Received) -> Pass | Outcome | None:
        """Ask the limits (None: nothing limits the job); a deferral is the outcome."""
        job, handler = received.job, received.handler
        try:
            entered = await self._limits.enter(
                job.id, job.type, job.payload, job.limit, handler.limits
            )
        except Exception as exc:  # the handler's key function failed: as the handler would
            return self._after_failure(job, job.max_attempts or handler.max_attempts, exc)
        if isinstance(entered, Deferral):
            self._log_job("job %s deferred: %s", job.id, entered.reason)
            deferred = dataclasses.replace(job, limit=entered.limit)
            return self._report.waiting(deferred, entered.reason, entered.delay_s)
        return entered

    async def _run(self, flight: Flight, received: Received) -> Outcome:
        """Run the handler once; a failure becomes a retry or a dead letter."""
        job, handler = received.job, received.handler
        max_attempts = job.max_attempts or handler.max_attempts
        if log.isEnabledFor(self._job_log_level):
            self._log_job("processing job %s (type=%s, attempt=%d)", job.id, job.type, job.attempts)
        signals = flight.signals = self._report.signals(job)
        ctx = JobContext(job.id, job.type, job.attempts, max_attempts, self.worker_id, signals)
        self._report.running(job, max_attempts)
        flight.in_async_handler = handler.is_async
        try:
            result = await execute(handler, job.payload, ctx, self._threads)
        except asyncio.CancelledError:
            if not _stopped_on_request(flight):
                raise
            return self._report.cancelled(job, "stopped while running")
        except Exception as exc:
            if signals.cancelled:
                return self._report.cancelled(job, "stopped while running")
            return self._after_failure(job, max_attempts, exc)
        finally:
            flight.in_async_handler = False
            signals.finish()
        done = self._report.succeeded(job, result)
        if isinstance(done, InvalidResult):
            return self._after_failure(job, max_attempts, done)
        if log.isEnabledFor(self._job_log_level):
            self._log_job("job %s succeeded", job.id)
        return done

    def _log_job(self, message: str, *args: object) -> None:
        log.log(self._job_log_level, message, *args)

    def _after_failure(self, job: Job, max_attempts: int, exc: Exception) -> Outcome:
        decided = settle.after_failure(job, max_attempts, exc, self._retry, self.worker_id)
        then = f" — retrying in {decided.delay_s:.1f}s" if isinstance(decided, RetryLater) else ""
        attempt = f"{job.attempts + 1}/{max_attempts}"
        log.warning("job %s failed (attempt %s): %s%s", job.id, attempt, settle.describe(exc), then)
        return self._report.failed(job, decided, exc)

    async def _settle(self, flight: Flight, outcome: Outcome) -> None:
        """Make the outcome's events durable, then settle on the broker. If either fails, hand
        the delivery back (best effort) and drop it: never acked, it is delivered again once
        the broker is back."""
        settlement = outcome.settlement
        try:
            if outcome.events and self._status is not None:
                await self._status.commit(outcome.events)
            settling = settle.apply(self._broker, flight.delivery, settlement)
            if self._tracing is not None:
                settling = self._tracing.settle(flight.delivery, settlement, settling)
            await settling
        except BrokerError as exc:
            log.warning(
                "job %s: could not settle (%s); it will be delivered again", flight.job_id, exc
            )
            if not isinstance(settlement, HandBack):
                # Where consuming still works (RabbitMQ blocks publishing connections only), the
                # message would otherwise stay unacked, held here, until its channel closes.
                await _quietly(settle.apply(self._broker, flight.delivery, HandBack()), "hand-back")
            return
        self._count(flight, settlement)

    def _count(self, flight: Flight, settlement: settle.Settlement) -> None:
        if isinstance(settlement, HandBack):
            log.info("job %s handed back", flight.job_id)
            return
        if isinstance(settlement, HandOn):
            return
        self._processed += 1
        if not isinstance(settlement, Ack):
            self._failed += 1
        if isinstance(settlement, DeadLetter):
            death = settlement.death
            log.warning("job %s dead-lettered: %s (%s)", flight.job_id, death.reason, death.error)

    # -- shutdown -------------------------------------------------------------------------------

    async def _finish_in_flight(self) -> None:
        """Let the jobs in flight finish, until the deadline (none after ``drain()``)."""
        if not self._flights:
            return
        log.info("waiting for %d job(s) in flight to finish", len(self._flights))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(self._deadline) as self._grace:
                await asyncio.wait(list(self._flights))

    async def _hand_back_running(self) -> None:
        """Cancel the jobs still running (each hands its delivery back), wait for the rest."""
        running = [task for task, flight in self._flights.items() if not flight.settling]
        if running:
            log.warning("handing back %d job(s) still running", len(running))
        for task in running:
            task.cancel()
        if self._flights:
            await asyncio.wait(list(self._flights))

    async def _close(self, watcher: asyncio.Task[None] | None, control: ControlLink | None) -> None:
        if watcher is not None:
            watcher.cancel()
        if control is not None:
            await _quietly(control.stop(drained=self._drained), "deregistering")
        if self._status is not None:
            await _quietly(self._status.close(), "publishing the last status events")
        await _quietly(self._limits.close(), "giving limit slots back")
        await _quietly(self._broker.close(), "closing the broker")
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._threads.busy:
            log.warning("%d handler thread(s) still running, abandoned", self._threads.busy)
        self._stopped.set()
        log.info("worker %s stopped", self.worker_id)

    # -- control --------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop gracefully (SIGTERM, SIGINT); a second request hands the running jobs back now."""
        self._stop_requests += 1
        now = asyncio.get_running_loop().time()
        self._limit_deadline(now + self._grace_s if self._stop_requests == 1 else now)
        self._begin_stop()

    async def stop(self) -> None:
        """Stop gracefully and wait until the worker has shut down."""
        self.request_stop()
        if self._running:
            await self._stopped.wait()

    def drain(self) -> None:
        """Take no new jobs, finish the jobs in flight however long they take, then stop."""
        self._drained = not self._stopping
        self._begin_stop()

    def refuse(self, reason: str) -> None:
        """The control plane refused this worker (it consumes another broker): stop."""
        self.refusal = reason
        self.request_stop()

    def pause(self) -> None:
        """Take no new jobs until ``resume()``; the jobs in flight go on.

        Consuming stops, so prefetched messages go back to the broker rather than being held.
        """
        if self._state is State.ACTIVE:
            self._state = State.PAUSED
            self._wakeup.clear()
            self._in_background(_quietly(self._broker.stop_consuming(), "stopping consuming"))
            log.info("worker %s paused", self.worker_id)

    def resume(self) -> None:
        """Take jobs again after ``pause()``."""
        if self._state is State.PAUSED:
            self._state = State.ACTIVE
            self._wakeup.set()
            log.info("worker %s resumed", self.worker_id)

    def command(self, name: str) -> None:
        """Obey a control-plane command: ``pause``, ``resume`` or ``drain``."""
        actions = {"pause": self.pause, "resume": self.resume, "drain": self.drain}
        action = actions.get(name)
        if action is None:
            log.warning("ignoring unknown command %r", name)
            return
        action()

    def fleet_seen(self, served: ServedTypes) -> None:
        """What the live workers of this queue serve, as the control plane last said: a broker
        that can filter by type (the embedded one) then delivers no job of a type that other
        live workers serve and this one does not."""
        self._fleet = served
        if isinstance(self._broker, SkipsTypes):
            self._broker.skip_types(served.types - self._own_types)

    def cancel_jobs(self, job_ids: Iterable[str]) -> None:
        """Stop the named jobs that run here, and skip them if they are delivered later."""
        wanted = set(job_ids)
        if not wanted:
            return
        for task, flight in self._flights.items():
            if flight.job_id in wanted and not flight.settling:
                _stop_flight(task, flight)
        self._skip.add_all(wanted)

    def _begin_stop(self) -> None:
        if self._stopping:
            return
        log.info("worker %s stopping: no new jobs", self.worker_id)
        self._stopping = True
        self._stop_requested.set()
        self._state = State.DRAINING
        self._wakeup.set()
        self._in_background(_quietly(self._broker.stop_consuming(), "stopping consuming"))

    def _limit_deadline(self, when: float) -> None:
        """Bring the end of the grace period forward to ``when`` (never push it back)."""
        if self._deadline is None or when < self._deadline:
            self._deadline = when
            if self._grace is not None:
                self._grace.reschedule(when)

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _stop_when_idle(self) -> None:
        """Burst mode: stop once the queue is empty and nothing runs, ``BURST_IDLE_POLLS`` polls
        in a row (a retry leaving RabbitMQ's delay queue for the jobs queue can look absent from
        both for an instant, so one or two empty polls are not enough)."""
        idle_polls = 0
        while idle_polls < BURST_IDLE_POLLS:
            received = self._received
            await asyncio.sleep(BURST_POLL_S)
            idle = not self._flights and self._received == received and await self._queue_empty()
            idle_polls = idle_polls + 1 if idle else 0
        log.info("burst: queue %r is empty, stopping", self.queue)
        self.request_stop()

    async def _queue_empty(self) -> bool:
        try:
            depth = await self._broker.depth()
        except BrokerError:
            return False
        return depth.ready + depth.delayed == 0

    # -- inspection -----------------------------------------------------------------------------

    def knows_cancelled(self, job_id: str) -> bool:
        """Whether ``job_id`` was cancelled: it is skipped if it is delivered here."""
        return job_id in self._skip

    @property
    def abandoned_threads(self) -> int:
        """Handler threads still running that nobody waits for (after a timeout or hand-back)."""
        return self._threads.busy

    def stats(self) -> WorkerStats:
        """What the worker reports about itself in heartbeats."""
        flights = list(self._flights.values())
        return WorkerStats(
            worker_id=self.worker_id,
            in_flight=len(flights),
            concurrency=self.concurrency,
            job_types=tuple(self._handlers.types()),
            queue=self.queue,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            started_at_unix=self._started_at_unix,
            processed=self._processed,
            failed=self._failed,
            job_ids=tuple(flight.job_id for flight in flights),
            state=self._state.value,
            broker=self.broker_identity,
        )


def _local_limits(worker_id: str) -> LimitGate:
    """Limits kept in this worker alone: without a control plane to share them, a limit
    holds per worker, not across the fleet."""
    from jobqueue.limits.memory import MemoryLimits

    return LimitGate(MemoryLimits(), worker_id)


def _stop_flight(task: asyncio.Task[None], flight: Flight) -> None:
    """Tell a running job's handler to stop; interrupt it if it is an ``async def`` one."""
    if flight.signals is not None and not flight.signals.cancelled:
        log.info("job %s: cancel requested; asking its handler to stop", flight.job_id)
        flight.signals.cancel()
    if flight.in_async_handler and not flight.cancel_sent:
        flight.cancel_sent = True
        task.cancel("job cancelled")


def _stopped_on_request(flight: Flight) -> bool:
    """Whether the CancelledError at hand is the job's cancellation alone (not a shutdown)."""
    task = asyncio.current_task()
    if not flight.cancel_sent or task is None or task.cancelling() != 1:
        return False
    task.uncancel()
    return True


async def _quietly(step: Awaitable[None], what: str) -> None:
    """Await a shutdown step; log its failure rather than abort the shutdown."""
    try:
        await step
    except Exception as exc:
        log.warning("%s failed: %s", what, exc)
