"""The judge stage: after the motion stage, before the aggregate.

For every sample with an edited image, the judge is asked once, concurrently
(``--judge-concurrency`` requests in flight, default the judge's ``default_concurrency``; the
images are read and encoded ahead in a worker thread), through the response cache
(:mod:`mebench.judging.cache`): a rerun, or a killed stage restarted, asks only what has no
cached reply. Each judged record gains ``record["judge"]`` (the per-sample contract,
:meth:`JudgeResult.record`) and, when the reply parsed, the scores in ``record["metrics"]``; the
motion metrics stay whatever the judge says. results.json gets a ``judge`` block::

    {"name", "model", "mode", "prompt_id", "prompt_hash",
     "n_judged",   # samples sent to the judge (those with an edited image)
     "n_failed",   # of those, samples without scores (no reply, or a reply that did not parse)
     "usage": {"input_tokens", "output_tokens", "total_tokens"},   # summed over the samples
     "cost_usd"}   # estimated from mebench.judging.prices; null for an unknown model

Usage and cost count every judged sample's reply, cached or new, so a resumed run reports what
an uninterrupted one does; what this invocation actually requested is in run.json
(``judge_counts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError
from mebench.judging.cache import ResponseCache, identity_json, request_key
from mebench.judging.prices import cost_usd
from mebench.judging.types import JudgeImage, JudgeRequest, JudgeResult

if TYPE_CHECKING:
    from mebench.contracts import Judge
    from mebench.plugin_manager import MebenchPluginManager, PluginSpec
    from mebench.rundir import RunDir
    from mebench.taskfile.schema import JudgeConfig
    from mebench.types import Sample

CACHE_FILE = Path("judge") / "responses.sqlite"
#: requests prepared (images read and encoded) per trip to the worker thread
PREPARE_CHUNK = 8
#: --judge-args keys that set a field of the judge section rather than a plugin argument
CONFIG_KEYS = ("model", "prompt", "mode", "reference")


@dataclass(frozen=True)
class JudgeChoice:
    """The effective judge of a run: the task's ``judge:`` section with the command line's
    ``--judge`` / ``--judge-args`` applied."""

    name: str
    model: str | None = None
    prompt: str | None = None
    mode: str = "rubric"
    reference: bool = False
    args: Mapping[str, Any] = field(default_factory=dict)

    def factory_args(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.args, "mode": self.mode, "reference": self.reference}
        if self.model is not None:
            out["model"] = self.model
        if self.prompt is not None:
            out["prompt"] = self.prompt
        return out


def resolve_judge(task_judge: JudgeConfig | None, name: str | None,
                  args: Mapping[str, Any]) -> JudgeChoice | None:
    """The task's judge, replaced by ``--judge NAME`` (``none``: no judge), then ``--judge-args``
    applied key by key. ``--judge`` naming the task's own judge keeps the task's settings;
    another name starts from that judge's defaults."""
    if name is not None and name.lower() == "none":
        if args:
            raise MebenchError("--judge none takes no --judge-args", where="--judge-args")
        return None
    base: dict[str, Any] = {}
    if task_judge is not None and (name is None or name == task_judge.name):
        base = {"name": task_judge.name, "model": task_judge.model, "prompt": task_judge.prompt,
                "mode": task_judge.mode, "reference": task_judge.reference,
                "args": dict(task_judge.args)}
    elif name is not None:
        base = {"name": name, "args": {}}
    elif args:
        raise MebenchError("--judge-args given, but the task has no judge", where="--judge-args",
                           hint="name one with --judge openai|gemini|openai-compatible")
    else:
        return None
    for key, value in args.items():
        if key in CONFIG_KEYS:
            base[key] = value
        else:
            base["args"][key] = value
    if "mode" in base and not isinstance(base["mode"], str):
        raise MebenchError(f"mode must be a name, not {base['mode']!r}", where="--judge-args")
    if "reference" in base and not isinstance(base["reference"], bool):
        raise MebenchError(f"reference must be true or false, not {base['reference']!r}",
                           where="--judge-args")
    return JudgeChoice(**base)


@dataclass
class JudgeSetup:
    """A built judge with its cache and concurrency, shared by every model of a run."""

    choice: JudgeChoice
    spec: PluginSpec
    judge: Judge
    concurrency: int
    cache_path: Path

    @property
    def identity(self) -> dict[str, Any]:
        """Everything about the judge that changes an answer (the first half of a cache key)."""
        j = self.judge
        return {"provider": self.spec.name, "distribution": self.spec.distribution,
                "judge_version": str(getattr(j, "version", self.spec.version)),
                "model": j.model, "mode": j.mode, "prompt_id": j.prompt_id,
                "prompt_hash": j.prompt_hash, "settings": dict(j.settings)}

    def describe(self) -> dict[str, Any]:
        """The judge's part of run.json (no secrets: keys never reach the judge's arguments)."""
        return {**self.identity, "name": self.choice.name, "args": dict(self.choice.args),
                "reference": self.judge.reference, "concurrency": self.concurrency,
                "cache": str(self.cache_path)}


def build_judge(pm: MebenchPluginManager, choice: JudgeChoice, *, concurrency: int | None,
                cache_root: Path) -> JudgeSetup:
    """Build the judge before any work, so a bad name, argument or missing key fails first."""
    spec = pm.get("judge", choice.name)
    judge = spec.build(choice.factory_args())
    for attr in ("model", "mode", "reference", "prompt_id", "prompt_hash", "settings", "score"):
        if not hasattr(judge, attr):
            raise MebenchError(f"the judge object has no {attr!r}", where=f"judge {choice.name!r}",
                               hint="see mebench.contracts.Judge")
    if concurrency is not None and concurrency < 1:
        raise MebenchError(f"--judge-concurrency must be at least 1, got {concurrency}",
                           where="--judge-concurrency")
    chosen = concurrency or int(getattr(judge, "default_concurrency", 8))
    return JudgeSetup(choice, spec, judge, chosen, cache_root / CACHE_FILE)


@dataclass
class _Item:
    index: int
    sample: Sample
    record: dict[str, Any]
    key: str


def _image(ref: Any) -> JudgeImage:
    from mebench.images import encode_png

    return JudgeImage(encode_png(ref.load()), ref.digest)


class JudgeStage:
    """Judges the records of one model's run; see the module docstring."""

    def __init__(self, setup: JudgeSetup, rd: RunDir, *, progress: bool = True) -> None:
        self.setup = setup
        self.rd = rd
        self.progress = progress
        self.requested = 0
        self.cache_hits = 0

    def _request(self, item: _Item) -> JudgeRequest:
        path = self.rd.output_path(item.sample.id)
        edited = JudgeImage(path.read_bytes(), item.record["output_sha256"])
        target = None
        if self.setup.judge.reference:
            if item.sample.target is None:
                raise MebenchError("the judge is shown the target, but this sample has none",
                                   where=f"sample {item.sample.id!r}", hint="set reference: false")
            target = _image(item.sample.target)
        return JudgeRequest(item.sample.id, item.sample.instruction, _image(item.sample.source),
                            edited, target, item.sample.category)

    def _key(self, sample: Sample, record: dict[str, Any]) -> str:
        target = None
        if self.setup.judge.reference and sample.target is not None:
            target = sample.target.digest
        return request_key(self.setup.identity, instruction=sample.instruction,
                           source=sample.source.digest, edited=record["output_sha256"],
                           target=target)

    def run(self, samples: list[Sample], records: list[dict[str, Any]],
            desc: str = "judge") -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The records with their judgments (in the same order), and results.json's block."""
        from mebench.runner import progress_bar

        by_id = {s.id: s for s in samples}
        if self.setup.judge.reference:
            missing = [s.id for s in samples if s.target is None]
            if missing:
                raise MebenchError(f"the judge is shown the target, but {len(missing)} samples "
                                   "have none", where=f"sample {missing[0]!r}",
                                   hint="set the judge's reference: false")
        cache = ResponseCache(self.setup.cache_path)
        try:
            results: dict[int, JudgeResult] = {}
            todo: list[_Item] = []
            for i, record in enumerate(records):
                if record.get("status") != "ok":
                    continue
                sample = by_id[record["id"]]
                item = _Item(i, sample, record, self._key(sample, record))
                cached = cache.get(item.key)
                if cached is not None:
                    results[i] = cached
                    self.cache_hits += 1
                else:
                    todo.append(item)
            bar = progress_bar(len(todo), desc, self.progress)
            try:
                asyncio.run(self._ask_all(todo, cache, results, bar))
            finally:
                bar.close()
        finally:
            cache.close()
        judged = [_with_judgment(r, results[i]) if i in results else r
                  for i, r in enumerate(records)]
        return judged, self.block(list(results.values()))

    def _requests(self, items: list[_Item]) -> list[JudgeRequest]:
        return [self._request(item) for item in items]

    async def _ask_all(self, todo: list[_Item], cache: ResponseCache,
                       results: dict[int, JudgeResult], bar: Any) -> None:
        import concurrent.futures
        import os

        loop = asyncio.get_running_loop()
        # workers that prepare requests (read and encode images): half the cores, since more
        # only fight the event loop for the GIL (on 2 cores, 1 worker instead of asyncio's 6
        # took concurrency 64 from 0.71 to 0.83 of ideal in benchmarks/judge_throughput.py)
        workers = max(1, (os.cpu_count() or 2) // 2)
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge"))
        judge = self.setup.judge
        slots = min(self.setup.concurrency, len(todo))
        # ``slots`` tasks each send one request at a time (the concurrency limit); requests are
        # prepared ahead, PREPARE_CHUNK per trip to the worker thread, and wait in ``ready`` (at
        # most one per slot), so a slot is held only while its request is in flight
        ready: asyncio.Queue[tuple[_Item, JudgeRequest] | None] = asyncio.Queue(max(1, slots))
        writer = _CacheWriter(cache, identity_json(self.setup.identity), loop)

        async def prepare() -> None:
            for start in range(0, len(todo), PREPARE_CHUNK):
                chunk = todo[start:start + PREPARE_CHUNK]
                requests = await loop.run_in_executor(None, self._requests, chunk)
                for item, request in zip(chunk, requests):
                    await ready.put((item, request))
            for _ in range(slots):
                await ready.put(None)

        async def slot() -> None:
            while (got := await ready.get()) is not None:
                item, request = got
                self.requested += 1
                try:
                    result = await judge.score(request)
                except MebenchError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a plugin bug fails one sample
                    result = _failure(judge, f"{type(exc).__name__}: {exc}")
                if not isinstance(result, JudgeResult):
                    raise MebenchError(f"score() returned {type(result).__name__}, not a "
                                       "JudgeResult", where=f"judge {self.setup.choice.name!r}")
                writer.put(item.key, result)
                results[item.index] = result
                bar.update(1)

        tasks = [asyncio.ensure_future(prepare())] + [asyncio.ensure_future(slot())
                                                      for _ in range(slots)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                writer.flush()
            finally:
                aclose = getattr(judge, "aclose", None)
                if aclose is not None:
                    await aclose()

    def block(self, results: list[JudgeResult]) -> dict[str, Any]:
        judge = self.setup.judge
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        priced = True
        for r in results:
            replied = r.scores is not None or bool(r.raw)
            if replied and not {"input_tokens", "output_tokens"} <= set(r.usage):
                priced = False
            for k in usage:
                usage[k] += int(r.usage.get(k, 0))
        cost = cost_usd(judge.model, usage["input_tokens"], usage["output_tokens"])
        return {"name": self.setup.choice.name, "model": judge.model, "mode": judge.mode,
                "prompt_id": judge.prompt_id, "prompt_hash": judge.prompt_hash,
                "n_judged": len(results), "n_failed": sum(r.scores is None for r in results),
                "usage": usage, "cost_usd": cost if priced else None}

    def counts(self) -> dict[str, int]:
        """What this invocation did (run.json): requests sent, replies served from the cache."""
        return {"requests": self.requested, "cache_hits": self.cache_hits}


class _CacheWriter:
    """Stores replies in the response cache: those that arrive in one turn of the event loop in
    one transaction, committed in the next turn (a commit each is a measurable part of the
    stage's CPU time at high concurrency)."""

    def __init__(self, cache: ResponseCache, identity: str,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.cache = cache
        self.identity = identity
        self.loop = loop
        self.pending: list[tuple[str, JudgeResult]] = []
        self.scheduled = False
        self.error: Exception | None = None

    def put(self, key: str, result: JudgeResult) -> None:
        if self.error is not None:  # an earlier commit failed: fail the stage
            raise self.error
        if not result.cacheable:
            return
        self.pending.append((key, result))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - raised by the next put, or the final flush
            self.error = exc

    def flush(self) -> None:
        self.scheduled = False
        entries, self.pending = self.pending, []
        if entries:
            self.cache.put_many(entries, self.identity)
        if self.error is not None:
            raise self.error


def _failure(judge: Any, error: str) -> JudgeResult:
    structured = bool(getattr(judge, "structured", True))
    method = ("structured" if structured else "free-text") if judge.mode == "rubric" \
        else "logprobs"
    return JudgeResult(None, "", error, method, judge.prompt_id, judge.prompt_hash,  # type: ignore[arg-type]
                       cacheable=False)


def _with_judgment(record: dict[str, Any], result: JudgeResult) -> dict[str, Any]:
    out = dict(record)
    out["metrics"] = {**record.get("metrics", {}), **dict(result.scores or {})}
    out["judge"] = result.record()
    return out
