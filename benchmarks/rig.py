"""What the figures share: options, scratch space, queues, processes, job stamps, bare clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pika
import psutil

from benchmarks.process import ROOT, free_port, stop
from jobqueue.brokers import from_url
from jobqueue.job import Job

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
APP = "benchmarks.handlers:handlers"
BODY_BYTES = 200
PRELOAD_BATCH = 500
PRELOAD_IN_FLIGHT = 4
WAIT_POLL_S = 0.02
READY_TIMEOUT_S = 30.0
PROFILE_RATE_HZ = 200


@dataclass
class Options:
    """How big and how many: every figure reads what it needs from here."""

    runs: int = 3
    drain_jobs: int = 20_000
    submit_duration_s: float = 5.0
    submit_connections: int = 32
    batch_size: int = 100
    batch_connections: int = 8
    latency_jobs: int = 500
    latency_rate: float = 100.0
    e2e_jobs: int = 20_000
    e2e_workers: int = 2
    memory_jobs: int = 300_000  # the API's caches fill for the first 150,000 or so
    flood_clients: int = 2000
    flood_jobs: int = 5  # accepted jobs each client wants, one request after another
    flood_timeout_s: float = 60.0  # a request unanswered this long is a hang
    concurrency: int | None = None  # the worker's own default when None
    log_level: str = "INFO"  # the product's default: per-job log lines are part of the cost
    amqp_url: str = DEFAULT_AMQP_URL
    store_url: str | None = None  # beside RabbitMQ: a fresh SQLite file per run when None
    status: bool | None = None  # the workers' status events: their default when None
    keep_logs: bool = False
    profile_dir: Path | None = None  # sample the measured processes with py-spy into here

    @classmethod
    def quick(cls) -> Options:
        """A tiny configuration: every code path once, in seconds (the smoke test's)."""
        return cls(
            runs=1,
            drain_jobs=300,
            submit_duration_s=1.0,
            latency_jobs=30,
            latency_rate=50.0,
            e2e_jobs=300,
            memory_jobs=600,
            flood_clients=200,
            flood_jobs=2,
        )


@dataclass
class Rig:
    """One figure's run: a scratch folder, a unique name prefix, the processes it started."""

    options: Options
    name: str = "bench"
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jobqueue-bench-")))
    prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    profilers: dict[Path, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # for every process started
    _counted_bytes: int = 0  # of the stamp file, by ``stamp_count``
    _counted_lines: int = 0

    # -- names and files -------------------------------------------------------------------------

    def queue(self, name: str) -> str:
        """A queue name unique to this run; deleted from RabbitMQ at the end."""
        queue = f"{self.prefix}-{name}"
        self.queues.append(queue)
        return queue

    def queue_on(self, url: str, name: str) -> str:
        """A unique queue on RabbitMQ (deleted at the end); ``jobs`` in a fresh SQLite file."""
        return self.queue(name) if url.startswith("amqp") else "jobs"

    def sqlite_url(self, name: str = "bench") -> str:
        """A fresh SQLite broker file in the scratch folder."""
        return f"sqlite:///{self.folder / f'{name}.db'}"

    @property
    def stamp_file(self) -> Path:
        """Where the ``stamp`` handler appends ``job_id start_ns sent_ns worker_id`` lines."""
        return self.folder / "stamps"

    def log(self, name: str) -> Path:
        """The log file of one started process."""
        return self.folder / f"{name}.log"

    # -- processes -------------------------------------------------------------------------------

    def env(self, broker_url: str) -> dict[str, str]:
        """The environment of the jobqueue processes the rig starts on ``broker_url``.

        Beside RabbitMQ the job store is a fresh SQLite file per run (or ``store_url``); beside
        the embedded broker it is the broker's own file, as by default.
        """
        env = {
            "JOBQUEUE_BENCH_STAMP_FILE": str(self.stamp_file),
            "JOBQUEUE_LOG_LEVEL": self.options.log_level,
            "PYTHONPATH": str(ROOT),
        }
        if broker_url.startswith("amqp"):
            store = self.options.store_url or f"sqlite:///{self.folder / 'state.db'}"
            env["JOBQUEUE_STORE_URL"] = store
        if self.options.status is not None:
            env["JOBQUEUE_STATUS"] = "true" if self.options.status else "false"
        return {**env, **self.extra_env}

    def start(self, name: str, args: list[str], broker_url: str) -> subprocess.Popen[bytes]:
        """Start ``python -m jobqueue ARGS``; stopped (SIGTERM) when the rig closes."""
        with self.log(name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "jobqueue", *args],
                cwd=self.folder,  # anything a process writes by default lands in the scratch folder
                env={**os.environ, **self.env(broker_url)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def wait_ready(self, base_url: str, process: subprocess.Popen[bytes], name: str) -> None:
        """Wait for ``/readyz`` to answer 200; fail at once, with the log's end, if it died."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}): {self.log_tail(name)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} not ready in {READY_TIMEOUT_S:g} s: {self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 5) -> str:
        """The last lines of a process's log, on one line."""
        text = self.log(name).read_text(errors="replace") if self.log(name).exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def start_api(
        self, broker_url: str, queue: str, extra: Sequence[str] = ()
    ) -> tuple[str, str, subprocess.Popen[bytes]]:
        """A ``jobqueue api`` process (with ``extra`` arguments), ready; its base URL and gRPC
        address."""
        http, grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        args = ["api", "--broker-url", broker_url, "--queue", queue]
        args += ["--http-addr", http, "--grpc-addr", grpc, *extra]
        process = self.start("api", args, broker_url)
        self.wait_ready(f"http://{http}", process, "api")
        return f"http://{http}", grpc, process

    def start_worker(
        self,
        broker_url: str,
        queue: str,
        *,
        api_grpc: str = "",
        burst: bool = False,
        status: bool | None = None,
        name: str = "worker",
    ) -> subprocess.Popen[bytes]:
        """A ``jobqueue worker`` process running the benchmark handlers; ``status`` True or
        False overrides ``--status`` for this one (None: the options' choice, else its default).
        """
        args = ["worker", "--app", APP, "--broker-url", broker_url, "--queue", queue]
        args += ["--api-grpc", api_grpc]
        if self.options.concurrency is not None:
            args += ["--concurrency", str(self.options.concurrency)]
        if status is not None:
            args.append("--status" if status else "--no-status")
        return self.start(name, [*args, "--burst"] if burst else args, broker_url)

    # -- profiles --------------------------------------------------------------------------------

    def profile(self, process: subprocess.Popen[bytes], label: str, children: bool = False) -> None:
        """With ``profile_dir`` set, sample ``process`` with py-spy until :meth:`stop_profiles`.

        Writes ``{profile_dir}/{figure}-{label}.txt`` (py-spy's raw collapsed stacks) and a
        ``.summary.txt`` of the top functions beside it. The last run's profile is kept.
        """
        folder = self.options.profile_dir
        if folder is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            raise RuntimeError("--profile needs py-spy: pip install -e '.[dev]'")
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{self.name}-{label}.txt"
        args = [spy, "record", "--pid", str(process.pid), "--rate", str(PROFILE_RATE_HZ)]
        args += ["--format", "raw", "--threads", "--nonblocking", "-o", str(out)]
        args += ["--subprocesses"] if children else []
        self.profilers[out] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop_profiles(self) -> None:
        """Stop sampling; write each profile's summary beside it."""
        from benchmarks.profile import read, summary

        for out, spy in self.profilers.items():
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
            if out.exists():
                out.with_suffix(".summary.txt").write_text(summary(read(out), 40) + "\n")
        self.profilers.clear()

    def close(self, failed: bool = False) -> None:
        """Stop every process, delete the RabbitMQ queues, remove the scratch folder (kept, with
        the processes' logs, when the run failed or ``keep_logs`` is set)."""
        self.stop_profiles()
        for process in reversed(self.processes):
            stop(process)
        if self.queues:
            delete_queues(self.options.amqp_url, self.queues)
        if failed:
            print(f"logs of the failed run kept in {self.folder}", file=sys.stderr)
        elif not self.options.keep_logs:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- stamps ----------------------------------------------------------------------------------

    def stamps(self) -> list[Stamp]:
        """Every job the ``stamp`` handler has seen so far, in the order they started."""
        if not self.stamp_file.exists():
            return []
        lines = self.stamp_file.read_text().split("\n")[:-1]  # the last may be half-written
        return [Stamp.parse(line) for line in lines if line]

    def stamp_count(self) -> int:
        """How many whole lines the stamp file holds, reading only what was added since the last
        call: polling must not cost the machine (2 cores) what it is measuring."""
        try:
            with self.stamp_file.open("rb") as stamps:
                stamps.seek(self._counted_bytes)
                added = stamps.read()
        except FileNotFoundError:
            return 0
        whole = added.rfind(b"\n") + 1  # a half-written last line is counted next time
        self._counted_lines += added.count(b"\n", 0, whole)
        self._counted_bytes += whole
        return self._counted_lines

    def wait_stamps(self, count: int, timeout_s: float, process: Any = None) -> list[Stamp]:
        """Wait until ``count`` jobs were stamped; fail early if ``process`` died meanwhile."""
        deadline = time.monotonic() + timeout_s
        while (done := self.stamp_count()) < count:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"the process exited ({process.returncode}) with "
                    f"{done} of {count} jobs done; see {self.folder}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {count} jobs done in {timeout_s:g} s")
            time.sleep(WAIT_POLL_S)
        return self.stamps()


@dataclass(frozen=True, slots=True)
class Stamp:
    """One job as the ``stamp`` handler saw it start."""

    job_id: str
    started_ns: int
    sent_ns: int
    worker_id: str

    @classmethod
    def parse(cls, line: str) -> Stamp:
        """Read one line of the stamp file."""
        job_id, started, sent, worker = line.split()
        return cls(job_id, int(started), int(sent), worker)


@contextlib.contextmanager
def rig(options: Options, name: str = "bench") -> Iterator[Rig]:
    """A rig for one run of figure ``name``, closed (processes stopped, queues deleted)
    whatever happens."""
    current = Rig(options, name)
    try:
        yield current
    except BaseException:
        current.close(failed=True)
        raise
    current.close()


# -- jobs ------------------------------------------------------------------------------------------


def padded_job(job_type: str = "stamp", body_bytes: int = BODY_BYTES) -> Job:
    """A job whose encoded body is ``body_bytes`` long, like the bare clients' messages."""
    bare = len(Job(job_type, {"pad": ""}).encode())
    return Job(job_type, {"pad": "x" * max(0, body_bytes - bare)})


def request_body(count: int = 1) -> bytes:
    """A ``POST /jobs`` body (``count`` 1) or a ``POST /jobs/batch`` body of ``count`` jobs."""
    wire = padded_job().to_wire()
    job = {"type": wire["type"], "payload": wire["payload"]}
    return json.dumps(job if count == 1 else {"jobs": [job] * count}).encode()


async def _preload(url: str, queue: str, count: int) -> float:
    broker = from_url(url, queue=queue)
    await broker.connect()
    try:
        template = padded_job()
        batches = [
            [Job(template.type, template.payload) for _ in range(min(PRELOAD_BATCH, count - at))]
            for at in range(0, count, PRELOAD_BATCH)
        ]
        limit = asyncio.Semaphore(PRELOAD_IN_FLIGHT)

        async def one(batch: list[Job]) -> None:
            async with limit:
                await broker.publish(batch)

        started = time.perf_counter()
        await asyncio.gather(*(one(batch) for batch in batches))
        return count / (time.perf_counter() - started)
    finally:
        await broker.close()


def preload(url: str, queue: str, count: int) -> float:
    """Publish ``count`` stamp jobs with the broker API (batches of 500); jobs per second."""
    return asyncio.run(_preload(url, queue, count))


# -- bare clients and load generator (each in a process of its own) --------------------------------


def _run_json(
    module: str, args: list[str], timeout_s: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def bare(role: str, url: str, queue: str, count: int, prefetch: int = 8) -> dict[str, Any]:
    """Run the bare pika publisher or consumer on ``queue``; its result (``rate_per_s``...)."""
    args = [role, url, queue, "--count", str(count), "--prefetch", str(prefetch)]
    return _run_json("benchmarks.bare", args, timeout_s=300)


def load(
    args: list[str], timeout_s: float = 600, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the HTTP load generator with ``args`` (and ``env``: ``JOBQUEUE_TOKEN`` makes every
    request carry that token); its result."""
    return _run_json("benchmarks.loadgen", args, timeout_s, env)


def flood(args: list[str], timeout_s: float = 900) -> dict[str, Any]:
    """Run the flood generator with ``args``; its result."""
    return _run_json("benchmarks.floodgen", args, timeout_s)


def worker_prefetch(options: Options) -> int:
    """The prefetch the worker will use, for the bare consumer to use the same.

    The worker's concurrency (the option, else its default), raised as the worker raises it
    when status events are on (they are by default): jobs waiting for their events' confirm
    hold deliveries too.
    """
    from jobqueue import config
    from jobqueue.worker import worker

    concurrency = options.concurrency or config.CONCURRENCY
    if options.status is False:
        return concurrency
    factor = getattr(worker, "SETTLING_PREFETCH_FACTOR", 1)
    return max(concurrency * factor, getattr(worker, "SETTLING_PREFETCH_MIN", concurrency))


def delete_queues(url: str, queues: list[str]) -> None:
    """Delete the queues and all jobqueue derived from their names (best effort): dead-letter
    and retry queues, the dead-letter exchange, and the same for the status events queue."""
    from jobqueue.brokers.amqp.topology import Names
    from jobqueue.store.transport import events_queue

    with contextlib.suppress(pika.exceptions.AMQPError, OSError):
        conn = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = conn.channel()
            for base in queues:
                for queue in (base, events_queue(base)):
                    names = Names(queue)
                    for name in (queue, names.dlq, *names.retry_queues()):
                        channel.queue_delete(name)
                    channel.exchange_delete(names.dlx)
        finally:
            conn.close()


def purge_queue(url: str, queue: str) -> None:
    """Drop every message in ``queue`` (it stays declared, its consumers and publishers on)."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        conn.channel().queue_purge(queue)
    finally:
        conn.close()


# -- measuring processes ---------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds (NaN once it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return float("nan")
    return float(times.user + times.system)


def loop_thread_s(pid: int) -> tuple[float, float]:
    """The main thread's time on a CPU and time runnable but waiting for one, in seconds.

    From ``/proc/PID/schedstat`` (Linux); NaN elsewhere. The main thread runs the event loop,
    so over a span: on-CPU + waiting-for-a-CPU + the rest (waiting for I/O) = the span. A high
    wait share means the machine was too busy to run it, not that the code was slow.
    """
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text().split()
        return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan"), float("nan")


def loop_shares(
    before: tuple[float, float], after: tuple[float, float], wall_s: float, prefix: str
) -> dict[str, float | None]:
    """The event loop thread's on-CPU and waiting-for-a-CPU shares of ``wall_s``, in percent."""
    return {
        f"{prefix}_loop_cpu_percent": cpu_percent(after[0] - before[0], wall_s),
        f"{prefix}_loop_runqueue_percent": cpu_percent(after[1] - before[1], wall_s),
    }


def cpu_percent(used_s: float, wall_s: float) -> float | None:
    """CPU used over a wall-clock span, in percent of one core (None when unknown)."""
    if wall_s <= 0 or used_s != used_s:  # NaN: the process was gone
        return None
    return round(100 * used_s / wall_s, 1)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def load_average() -> float:
    """The one-minute load average (other work on the machine skews every figure)."""
    return os.getloadavg()[0]
