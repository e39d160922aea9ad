"""The run: samples -> generate -> motion -> aggregate -> report, each stage resumable.

A killed run restarted with the same command skips every finished sample: an output image on disk
is a finished generation (written atomically), a record in ``samples.partial.jsonl`` whose scoring
key and output hash still match is a finished score. ``results.json`` is computed from the records
in dataset order, so a resumed run ends byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench import distributed
from mebench.errors import MebenchError
from mebench.images import save_png_atomic
from mebench.rundir import RunDir, read_results
from mebench.types import EditFailure, EditRequest
from mebench.usage import append_usage, usage_totals

if TYPE_CHECKING:
    from mebench.flowcache import FlowService
    from mebench.judging.stage import JudgeSetup
    from mebench.metrics.flowmetrics import FlowMetric
    from mebench.plugin_manager import MebenchPluginManager, PluginSpec
    from mebench.taskfile import DatasetConfig, TaskConfig
    from mebench.types import Sample


@dataclass(frozen=True)
class ModelChoice:
    name: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """Folder name: the model name, plus a short hash of its arguments when it has any."""
        if not self.args:
            return self.name
        digest = hashlib.sha256(json.dumps(self.args, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.name}-{digest}"


@dataclass(frozen=True)
class RunOptions:
    task: TaskConfig
    dataset: DatasetConfig
    models: Sequence[ModelChoice]
    flow: str | None = None
    flow_args: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    seed: int | None = None
    output: Path | None = None
    device: str | None = None
    batch_size: int = 1
    flow_batch_size: int = 8
    flow_dtype: str | None = None
    save_flow: bool = False
    cache_dir: Path | None = None
    use_cache: bool = True
    progress: bool = True
    command: Sequence[str] = ()
    judge: str | None = None  # --judge: replaces the task's judge ("none": no judge stage)
    judge_args: dict[str, Any] = field(default_factory=dict)
    judge_concurrency: int | None = None


@dataclass
class RunSummary:
    model: ModelChoice
    path: Path
    results: dict[str, Any]


def sample_seed(run_seed: int, sample_id: str) -> int:
    """A sample's generator seed: independent of batch size, order and rank."""
    return int(hashlib.sha256(f"{run_seed}:{sample_id}".encode()).hexdigest()[:8], 16)


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr (shown on a terminal; ``enabled=False`` hides it)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=True if not enabled else None,
                leave=False, file=sys.stderr)


class Runner:
    """Runs one task for each requested model; see the module docstring for the stages."""

    def __init__(self, pm: MebenchPluginManager, options: RunOptions) -> None:
        self.pm = pm
        self.opts = options
        self.seed = options.seed if options.seed is not None else options.task.generation.seed
        self.timings: dict[str, float] = {}
        self.judge: JudgeSetup | None = None
        self.model_settings: dict[str, dict[str, Any]] = {}

    # 1. Check inputs and build the shared parts ----------------------------------------------

    def _model_specs(self) -> list[PluginSpec]:
        return [self.pm.get("model", m.name) for m in self.opts.models]

    def _flow_service(self) -> FlowService:
        from mebench.flowcache import FlowService, mebench_home

        name = self.opts.flow or self.opts.task.flow.name
        args = dict(self.opts.task.flow.args) if self.opts.flow is None else {}
        args.update(self.opts.flow_args)
        spec = self.pm.get("flow", name)
        estimator = spec.build(args, device=self.opts.device)
        root = None
        if self.opts.use_cache:
            root = self.opts.cache_dir or mebench_home() / "cache"
        return FlowService(estimator, spec, args, root, batch_size=self.opts.flow_batch_size,
                           dtype=self.opts.flow_dtype)

    def _metrics(self) -> list[FlowMetric]:
        from mebench.metrics.flowmetrics import build_flow_metric

        return [build_flow_metric(m.name, m.args) for m in self.opts.task.metrics]

    def _judge_setup(self) -> JudgeSetup | None:
        from mebench.flowcache import mebench_home
        from mebench.judging.stage import build_judge, resolve_judge

        choice = resolve_judge(self.opts.task.judge, self.opts.judge, self.opts.judge_args)
        if choice is None:
            return None
        return build_judge(self.pm, choice, concurrency=self.opts.judge_concurrency,
                           cache_root=self.opts.cache_dir or mebench_home() / "cache")

    def run(self) -> list[RunSummary]:
        from mebench.data import load_samples

        specs = self._model_specs()  # unknown names fail before any work
        self.judge = self._judge_setup()  # a bad judge name, argument or key fails first
        metrics = self._metrics()
        flows = self._flow_service() if metrics else None  # a judge-only task needs no flow
        t0 = time.perf_counter()
        samples = load_samples(self.opts.dataset, self.opts.limit)
        if any(m.needs_exact for m in metrics) and any(s.flow is None for s in samples):
            raise MebenchError("a metric needs exact ground-truth flow, which this dataset lacks",
                               where="metrics", hint="remove flow_epe from the task")
        missing = next((s.id for s in samples if s.target is None), None)
        if metrics and missing is not None:
            raise MebenchError("flow metrics need a target image, and this sample has none",
                               where=f"sample {missing!r}",
                               hint="set dataset.columns.target, or use a judge-only task")
        self.timings["samples"] = time.perf_counter() - t0
        summaries = []
        for choice, spec in zip(self.opts.models, specs):
            summaries.append(self._run_model(choice, spec, samples, flows, metrics))
        return summaries

    def run_dir_for(self, choice: ModelChoice) -> Path:
        root = self.opts.output or Path("results") / "runs" / self.opts.task.task
        return root / choice.slug

    # 2-5. One model ----------------------------------------------------------------------------

    def _run_model(self, choice: ModelChoice, spec: PluginSpec, samples: list[Sample],
                   flows: FlowService | None, metrics: list[FlowMetric]) -> RunSummary:
        from mebench.provenance import run_record
        from mebench.scoring import Scorer, aggregate

        rd = RunDir(self.run_dir_for(choice))
        generation_key = _key({"model": spec.cache_identity, "args": choice.args,
                               "seed": self.seed, "dataset": self.opts.dataset.path,
                               "options": dict(self.opts.dataset.options)})
        # under torchrun / accelerate launch: rank 0 owns the directory, every rank generates a
        # slice, rank 0 scores (see mebench.distributed); a single process takes the same path
        dist = distributed.context()
        dist.init(self.opts.device)
        with contextlib.ExitStack() as stack:
            error: Exception | None = None
            previous_settings: dict[str, Any] | None = None
            if dist.is_main:
                try:
                    stack.enter_context(rd.locked())
                    rd.check_compatible(self.opts.task.task, generation_key)
                    previous_settings = (rd.read_run_json() or {}).get("model_settings")
                    record = run_record(self, choice, spec, flows, metrics, generation_key)
                    if dist.distributed:
                        record["distributed"] = {"world_size": dist.world_size}
                    if self.judge is not None:
                        record["judge"] = self.judge.describe()
                    rd.write_run_json(record)
                except Exception as exc:  # noqa: BLE001 - every rank must hear of it
                    error = exc
            dist.agree(None, error)
            timings: dict[str, float] = {}

            t0 = time.perf_counter()
            failures: dict[str, str] = {}
            try:
                failures = self._generate(rd, choice, spec, dist.shard(samples), rank=dist.rank)
            except Exception as exc:  # noqa: BLE001
                error = exc
            failures = {k: v for part in dist.agree(failures, error) for k, v in part.items()}
            timings["generate"] = time.perf_counter() - t0

            if dist.is_main:
                try:
                    t0 = time.perf_counter()
                    scorer = Scorer(rd, flows, metrics, progress=self.opts.progress,
                                    save_flow=self.opts.save_flow)
                    records = scorer.score(samples, failures, desc=f"motion {choice.slug}")
                    timings["motion"] = time.perf_counter() - t0

                    judge_block = None
                    if self.judge is not None:  # the judge stage (mebench.judging.stage)
                        from mebench.judging.stage import JudgeStage

                        t0 = time.perf_counter()
                        stage = JudgeStage(self.judge, rd, progress=self.opts.progress)
                        records, judge_block = stage.run(samples, records,
                                                         desc=f"judge {choice.slug}")
                        timings["judge"] = time.perf_counter() - t0
                        record["judge_counts"] = stage.counts()

                    results = aggregate(self.opts.task, choice, flows, records, seed=self.seed,
                                        judge=judge_block)
                    rd.write_samples(records)
                    rd.write_results(results)
                    record["timings"] = {**self.timings, **timings}
                    if flows is not None:
                        record["flow_counts"] = {"computed_total": flows.computed,
                                                 "reused_total": flows.hits}
                    usage = usage_totals(rd.path)
                    if usage is not None:
                        record["usage"] = usage
                    if choice.slug in self.model_settings:
                        record["model_settings"] = self.model_settings[choice.slug]
                    elif previous_settings is not None:  # a resumed run built no model
                        record["model_settings"] = previous_settings
                    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                    rd.write_run_json(record)
                except Exception as exc:  # noqa: BLE001
                    error = exc
            dist.agree(None, error)
        if not dist.is_main:
            results = read_results(rd.path)
        return RunSummary(choice, rd.path, results)

    def _generate(self, rd: RunDir, choice: ModelChoice, spec: PluginSpec,
                  samples: list[Sample], rank: int = 0) -> dict[str, str]:
        """Edit every sample without an output yet; returns ``{sample id: error}`` failures.

        ``samples`` is this rank's slice; API models' usage goes to ``usage.jsonl``."""
        todo = [s for s in samples if not rd.output_path(s.id).is_file()]
        failures: dict[str, str] = {}
        if not todo:
            return failures
        settings = {"device": distributed.context().device(self.opts.device),
                    "batch_size": self.opts.batch_size}
        if self.opts.task.generation.resolution is not None:
            settings["resolution"] = self.opts.task.generation.resolution
        # what the user gave in --model-args wins over the runner's settings
        model = spec.build(choice.args, **{k: v for k, v in settings.items()
                                           if k not in choice.args})
        if hasattr(model, "settings"):  # the adapter's effective settings, for run.json
            self.model_settings[choice.slug] = model.settings()
        uses_target = bool(getattr(model, "uses_target", False))
        where = f" [rank {rank}]" if distributed.context().distributed else ""
        bar = progress_bar(len(todo), f"generate {choice.slug}{where}", self.opts.progress)
        drain_usage = getattr(model, "drain_usage", None)
        size = max(1, self.opts.batch_size)
        for start in range(0, len(todo), size):
            batch = todo[start:start + size]
            requests = [
                EditRequest(sample_id=s.id, source=s.source.load(), instruction=s.instruction,
                            seed=sample_seed(self.seed, s.id), metadata=s.metadata,
                            target=s.target.load() if uses_target and s.target else None)
                for s in batch
            ]
            outputs = model.edit(requests)
            if drain_usage is not None:
                append_usage(rd.path, drain_usage(), rank=rank)
            if len(outputs) != len(requests):
                raise MebenchError(f"returned {len(outputs)} images for {len(requests)} requests",
                                   where=f"model {choice.name!r}")
            for sample, out in zip(batch, outputs):
                if isinstance(out, EditFailure):
                    failures[sample.id] = out.error
                else:
                    save_png_atomic(out, rd.output_path(sample.id))
            bar.update(len(batch))
        bar.close()
        return failures
