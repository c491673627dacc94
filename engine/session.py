"""A multi-model optimization session: the five phases, all models at once.

1. baseline: each model scores the unoptimized program on dev;
2. optimization: rounds of the chosen optimizer per model (see optimizers.py),
   each candidate scored on dev, until convergence, the round limit or the budget;
3. cross-model learning: the leader's instruction and demos are tried on every
   other model, which keeps them only if its dev score improves;
4. benchmark: each final program on the held-out test split;
5. report: Markdown, JSON and HTML, plus each program as DSPy JSON.

Each model runs its own pipeline in its own thread, inside its own
`dspy.context(lm=...)`, at its own pace: models meet only for the
cross-model trial, which needs the leader (see meeting.py), and with
cross-model learning off they never wait for each other.
Resuming replays the same deterministic pipeline with the same seed: every
LM call already paid for is answered by the SQLite call cache, so the
provider sees no repeated request and the results equal an uninterrupted
run's. Checkpoints (the best program after every round) are stored for
export and inspection.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from dspy_tui.storage.db import DISK_FULL_MESSAGE, DiskFull
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore

from . import events as ev
from . import local_models
from .budget import Budget, BudgetExhausted, BudgetReserveReached
from .call_errors import ModelFailed
from .call_failures import CANCELLED_BY_DSPY, CallFailures
from .config import JudgeSpec, SessionConfig
from .evaluation import Evaluation, degraded_reason, error_text, evaluate, never_answered
from .meeting import Meeting
from .metrics import MemoryWatch
from .phase_reserve import PhaseReserve
from .pricing import OFFLINE_PROVIDERS
from .provider_stats import StatsWatch
from .recorder import Recorder

if TYPE_CHECKING:
    from .call_context import CallContext

log = logging.getLogger(__name__)

PHASES = ("baseline", "optimization", "cross_model", "benchmark", "report")
DISK_FULL_REASON = "disk_full"
DISK_FULL_RETRY_S = 20.0  # how long a session on a full disk keeps its unsaved answers, retrying
STOP_WAIT_S = 2.0  # once stopping, how long a model's thread gets to return (calls are cancelled at once)


class SessionStop(BaseException):  # noqa: N818 - a control-flow signal like KeyboardInterrupt
    """The user asked to stop; raised inside model threads so no optimizer swallows it."""


# A model cannot go on (key refused, dead endpoint, quota exhausted); the others continue.
# The call path raises it too, so DSPy stops the model's evaluation at once.
ModelFatal = ModelFailed


@dataclass
class ModelRun:
    model: str
    provider: str
    lm: Any = None
    program: Any = None  # best program so far
    status: str = "pending"  # running | converged | done | failed | stopped
    phase: str = "baseline"
    baseline: float | None = None
    best_dev: float | None = None
    round_no: int = 0
    last_delta: float | None = None
    stale_rounds: int = 0
    test_score: float | None = None
    test_ci: tuple[float, float] | None = None
    test_scores: list[float] = field(default_factory=list)
    test_ids: list[str] = field(default_factory=list)
    test_correct: float = 0.0
    outputs: list[str] = field(default_factory=list)
    transfer: dict[str, Any] | None = None
    fatal: str | None = None
    error: str | None = None
    program_path: str | None = None
    # phase -> the counts() of its evaluations, summed: examples, answered, errored, unparsed
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    degraded: str | None = None  # why too many of its examples errored (one sentence), if they did
    last_eval: dict[str, int] = field(default_factory=dict)  # the last evaluation's counts, for its round row


def example_id(example: Any) -> str:
    """A stable id of a test example's inputs, so sessions with the same test set pair up."""
    inputs = {k: example[k] for k in example.inputs().keys()}
    return hashlib.sha1(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _judge_from_options(options: dict[str, Any]) -> JudgeSpec:
    """An llm_judge metric's options (`model`, `criteria`: what scorers accept) as the judge to ask."""
    criteria = options.get("criteria")
    try:
        return JudgeSpec(model=options["model"], **({"rubric": criteria} if criteria else {}))
    except ValidationError:
        raise ValueError(
            "The llm_judge metric options need `model` as a provider/model name and `criteria` as text."
        ) from None


def build_program(task: Any) -> Any:
    from .tasks import build_program as build

    return build(task)


class Session:
    """Runs (or resumes) one session; `run()` returns the final status."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        store: SessionStore,
        paths: Paths,
        bus: ev.EventBus | None = None,
        keys: Callable[[str], str | None] | None = None,
        session_id: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.paths = paths
        self.bus = bus or ev.EventBus()
        self._keys: Callable[[str], str | None] = keys or (lambda _provider: None)
        self.resumed = session_id is not None
        self.stop_event = threading.Event()
        self.stop_reason = ""
        self.runs: dict[str, ModelRun] = {}
        self._lock = threading.Lock()
        self.session_id = session_id or ""
        self.recorder: Recorder | None = None
        self.report_paths: dict[str, str] = {}
        self._judge_spec: JudgeSpec | None = None  # the judge model, when the task configures one
        self._judge_lms: dict[str | None, Any] = {}  # competing model (None: none) -> its judge's LM
        self._aspect_signature: Any = None  # the judged-aspects signature, parsed with the judge
        self.memory = MemoryWatch()  # process RSS samples: each model's peak during its phases
        self._ended = False  # set when run() returns: no further LM call of this session
        self._meeting: Meeting[ModelRun] | None = None
        self.call_failures = CallFailures()
        self.bus.subscribe(self.call_failures.on_event)

    # -- public control ----------------------------------------------------
    def stop(self, reason: str = "user") -> None:
        """Stop at once: in-flight calls are cancelled, state stays resumable."""
        self.stop_reason = self.stop_reason or reason
        self.stop_event.set()
        from .runtime import Runtime

        if Runtime.running():
            Runtime.get().cancel_session(self.session_id)

    # -- setup -------------------------------------------------------------
    def prepare(self) -> None:
        """Check everything a user can get wrong, then record the session; raises one-sentence user errors.

        Nothing is written to the database until the task loads and every model has
        a provider, a key and (under a budget) a price, so a typo leaves no stray session.
        """
        import uuid

        from dspy_tui.storage.cache import CallCache

        from . import quiet_dspy
        from .call_context import CallContext, ModelOptions, as_timeouts
        from .lm import make_lm
        from .providers.registry import split_model
        from .tasks import load_task

        quiet_dspy()
        cfg = self.config
        if not self.session_id:
            self.session_id = uuid.uuid4().hex[:12]
        self.bus.session_id = self.session_id
        self.budget = Budget(
            cfg.budget_usd,
            {m.id: m.budget_usd for m in cfg.models if m.budget_usd},
            min_answer_tokens=cfg.min_answer_tokens,
        )
        self.budget.publish_to(self.bus)
        self.cache = CallCache(self.store.path, max_body_bytes=cfg.max_cached_body_bytes)
        options = cfg.task.metric_options
        judge = cfg.task.judge or (
            _judge_from_options(options) if cfg.task.metric == "llm_judge" and "model" in options else None
        )
        if cfg.task.metric == "llm_judge" and judge is None:  # refused now, not after the baseline ran
            raise ValueError(
                "The llm_judge metric needs a judge model: give one under [task] as "
                'judge = { model = "provider/model" }, or use another metric.'
            )
        siblings = self.store.repeat_group(cfg.repeat_group) if cfg.repeat_group else []
        self.calls = CallContext(
            session_id=self.session_id,
            shared_cache=tuple(s for s in siblings if s != self.session_id),
            budget=self.budget,
            cache=self.cache,
            bus=self.bus,
            base_urls=cfg.base_urls,
            timeouts=as_timeouts(cfg.timeouts.total_s, cfg.timeouts.connect_s),
            num_retries=cfg.num_retries,
            retry_after_cap_s=cfg.retry_after_cap_s,
            gate=self._gate,
            on_fatal=self._mark_fatal,
            local_models={k: v.model_dump(exclude_none=True) for k, v in cfg.local_models.items()},
        )
        self.task = load_task(cfg.task, judge=self._judge_fn(judge) if judge else None)
        self.calls = replace(
            self.calls,
            local_models=local_models.sized_table(  # local/ contexts fit the task
                self.calls.local_models,
                [(m.id, m.max_tokens) for m in cfg.models],
                self.task.train + self.task.dev,
            ),
        )
        if not self.resumed:  # stored with the session, so a resume can tell a changed dataset
            self.config = cfg = cfg.model_copy(
                update={"task": cfg.task.model_copy(update={"file_hashes": self.task.file_hashes})}
            )
        self.reserve = PhaseReserve.for_session(self.budget, cfg, self.task)
        for m in cfg.models:
            provider, _ = split_model(m.id)
            own_gate = replace(self.calls, gate=functools.partial(self._model_gate, m.id))
            lm = make_lm(
                m.id,
                keys=self._keys,
                context=own_gate,
                options=ModelOptions(
                    base_url=m.base_url,
                    price=m.price.model_dump() if m.price else None,
                    limits=m.limits.model_dump(exclude_none=True) if m.limits else None,
                    max_tokens=m.max_tokens,
                    temperature=m.temperature,
                ),
            )
            self.runs[m.id] = ModelRun(model=m.id, provider=provider, lm=lm)
            if self._judge_spec is not None:
                self._judge_lms[m.id] = self._judge_lm_for(m.id, own_gate)
        if self.resumed:
            self.budget.preload(
                float(self.store.call_totals(self.session_id)["cost_usd"] or 0.0),
                self._prior_spent_by_model(),
            )
            self.store.update_status(self.session_id, "running")
        else:
            self.store.create_session(
                name=cfg.name,
                config=cfg.model_dump(mode="json"),
                task=cfg.task.dataset,
                seed=cfg.seed,
                budget_usd=cfg.budget_usd,
                models=[(m, split_model(m)[0]) for m in cfg.model_ids()],
                session_id=self.session_id,
            )
        self.recorder = Recorder(self.store, self.session_id, self.bus)

    def _prior_spent_by_model(self) -> dict[str, float]:
        """What each competitor's own calls cost before this resume (its judge's are not its own)."""
        calls = self.store.calls_by_model(self.session_id, role="model")
        return {model: t["cost_usd"] for model, t in calls.items()}

    def _judge_lm_for(self, model: str | None, context: CallContext) -> Any:
        """The judge's LM while it rates `model`'s answers: its calls have the role and phase
        `judge`, are charged to the judge, and draw on `model`'s hold of the budget."""
        from .lm import make_lm

        assert self._judge_spec is not None
        lm = make_lm(self._judge_spec.model, keys=self._keys, context=context)
        link = lm.engine.link
        link.role = link.phase = "judge"
        link.serves = model
        return lm

    def _judge_of(self, lm: Any) -> Any:
        """The judge's LM for the competing model whose LM is `lm` (the one in dspy's context)."""
        link = getattr(getattr(lm, "engine", None), "link", None)
        return self._judge_lms.get(getattr(link, "label", None)) or self._judge_lms[None]

    def _judge_fn(self, spec: JudgeSpec) -> Callable[[Any, Any, str], float]:
        """An llm_judge scorer: the judge model rates each answer against the rubric, costed like any call."""
        import dspy

        self._judge_spec = spec
        self._judge_lms[None] = self._judge_lm_for(None, self.calls)
        rate = dspy.Predict("rubric, task_inputs, expected, response -> score: float")
        # parsed here, on the building thread: concurrent ast.parse breaks CPython 3.11
        self._aspect_signature = dspy.Signature("aspect, task_inputs, response -> score: float")

        def judge(example: Any, pred: Any, field_name: str) -> float:
            inputs = {k: example[k] for k in example.inputs().keys()}
            with dspy.context(lm=self._judge_of(dspy.settings.lm)):
                out = rate(
                    rubric=spec.rubric,
                    task_inputs=json.dumps(inputs, default=str),
                    expected=str(example.get(field_name, "")),
                    response=str(getattr(pred, field_name, "")),
                )
            return max(0.0, min(1.0, float(out.score)))

        return judge

    def _gate(self) -> None:
        """Called by the engine before every LM call."""
        if self.cache.disk_full.is_set() or self.store.disk_full.is_set():
            self._stop_for_full_disk()
        if self.stop_event.is_set():
            raise SessionStop(self.stop_reason or "user")
        if self._ended:
            raise SessionStop("the session has ended")

    def _model_gate(self, model: str) -> None:
        """The gate of one model's calls and phases: once the model has failed (or the session
        ended) nothing more is sent for it, also by threads an optimizer left running."""
        self._gate()
        run = self.runs[model]
        if run.fatal or run.status == "failed":
            raise ModelFatal(run.fatal or run.error or "the model failed", model)

    def _mark_fatal(self, model: str, exc: BaseException) -> None:
        run = self.runs.get(model)
        if run is not None and run.fatal is None:
            run.fatal = str(exc).split("\n")[0]

    # -- the run -----------------------------------------------------------
    def run(self) -> str:
        """Run all phases; returns "completed", "stopped" (user), "budget" or "failed"."""
        assert self.recorder is not None, "call prepare() first"
        from .hooks import HookRunner

        hooks = (
            HookRunner(self.config.hooks, self.config.hook_timeout_s, grace_s=self.config.hook_grace_s)
            if self.config.hooks
            else None
        )
        detach = hooks.attach(self.bus) if hooks else None
        self.bus.publish(
            ev.SessionStarted(name=self.config.name, models=list(self.runs), resumed=self.resumed)
        )
        outcome = "failed"
        self.memory.start()
        limiters = self._watch_limiters()
        try:
            outcome = self._run_phases()
        except BudgetExhausted:
            outcome = "budget"  # Budget.publish_to already announced it
        except SessionStop:
            outcome = "stopped"
        except DiskFull:
            self._stop_for_full_disk()
            outcome = "stopped"
        except Exception as exc:  # noqa: BLE001 - reported as one sentence, state kept
            log.exception("session %s failed", self.session_id)
            self.bus.publish(ev.SessionFailed(error=f"{type(exc).__name__}: {exc}"))
            self.store.update_status(self.session_id, "failed", error=str(exc))
            outcome = "failed"
        finally:
            self.memory.stop()
            limiters.stop()
            self._ended = True
            self._finish(outcome)
            if detach:
                detach()
            if hooks:
                hooks.close(wait=True, stopping=self.stop_event)
        return outcome

    def _watch_limiters(self) -> StatsWatch:
        """Per-provider throttling for the screens, sampled once a second (provider_stats.py)."""
        from .runtime import Runtime

        links = [run.lm.engine.link for run in self.runs.values()]
        links += [lm.engine.link for lm in self._judge_lms.values()]  # one limiter: the judge's model
        return StatsWatch(Runtime.get(), links, self.bus).start()

    def _stop_for_full_disk(self) -> None:
        """No new calls (those in flight finish and are kept in memory); `_finish` then saves what it can."""
        self.stop_reason = self.stop_reason or DISK_FULL_REASON
        self.stop_event.set()

    def _finish_on_full_disk(self) -> None:
        """Write what a full disk held back (paid answers, events, models) once space is freed,
        retrying for DISK_FULL_RETRY_S; the session ends `interrupted`, to be resumed."""
        assert self.recorder is not None
        from .runtime import Runtime

        if Runtime.running():
            Runtime.get().wait_session_idle(self.session_id, self.config.timeouts.total_s + 5)
        self.recorder.close()
        deadline = time.monotonic() + DISK_FULL_RETRY_S
        while True:
            try:
                if self.cache.flush_unstored() and self.recorder.write_kept():
                    for run in self.runs.values():
                        self._save_model(run)
                    self.store.update_status(self.session_id, "interrupted", error=DISK_FULL_MESSAGE)
                    return
            except DiskFull:
                pass
            if time.monotonic() > deadline:
                log.error(
                    "session %s: the disk stayed full; %d paid answers could not be stored",
                    self.session_id,
                    self.cache.unstored,
                )
                return
            time.sleep(0.5)

    def _finish(self, outcome: str) -> None:
        """Persist every model, set the final status, then write the report (also for a stopped session)."""
        assert self.recorder is not None
        if self.stop_reason == DISK_FULL_REASON:
            self._finish_on_full_disk()
            return
        from .runtime import Runtime

        if Runtime.running():  # calls still out (a budget stop leaves some) are recorded before the totals
            Runtime.get().wait_session_idle(self.session_id, self.config.timeouts.total_s + 5)
        from .local_server import SERVERS

        SERVERS.release(self.session_id)  # its local/ servers stop unless another session uses them
        status = {"completed": "completed", "stopped": "stopped", "budget": "stopped", "failed": "failed"}[
            outcome
        ]
        for run in self.runs.values():
            self._save_model(run)
        if status != "failed":
            self.store.update_status(self.session_id, status)
        if any(r.program is not None for r in self.runs.values()):
            try:
                self._report()
            except Exception:  # the results are stored; a report can be made later with `dspy-tui report`
                log.exception("could not write the report of session %s", self.session_id)
        if outcome == "completed":
            self.bus.publish(ev.SessionCompleted())
        elif outcome in ("stopped", "budget"):
            reason = "budget" if outcome == "budget" else self.stop_reason or "user"
            self.bus.publish(ev.SessionStopped(reason=reason))
        self.recorder.close()

    def _run_phases(self) -> str:
        """Every model runs its own pipeline; they meet only for the cross-model trial."""
        models = list(self.runs.values())
        if self.config.cross_model and len(models) > 1:
            self._meeting = Meeting(models, lambda r: r.best_dev or 0.0)
        self._each(models, self._pipeline)
        self._cost_updated()  # the final figure, benchmark included
        if all(r.status == "failed" for r in models):
            raise RuntimeError("every model failed: " + "; ".join(f"{r.model}: {r.error}" for r in models))
        if self.budget.exhausted:
            raise BudgetExhausted(
                "budget exhausted", spent_usd=self.budget.spent, limit_usd=self.budget.limit_usd or 0.0
            )
        if self.stop_event.is_set():
            raise SessionStop(self.stop_reason)
        return "completed"

    def _pipeline(self, run: ModelRun) -> None:
        """One model's phases, at its own pace: baseline, optimization, its cross-model trial, benchmark."""
        try:
            self._phase(run, "baseline", self._baseline)
            assert self.recorder is not None  # hold back the later phases before optimization can spend it
            self.reserve.update(run.model, self.recorder.model_totals(run.model))
            self._phase(run, "optimization", self._optimize_within_budget)
            if self._meeting is not None:
                leader = self._meeting.arrive(run, self.stop_event.is_set)
                if leader is None:
                    raise SessionStop(self.stop_reason or "user")
                if leader is not run and leader.program is not None:
                    self._phase(run, "cross_model", lambda r: self._transfer_within_budget(r, leader))
            self._phase(run, "benchmark", self._benchmark)
        finally:
            if self._meeting is not None:
                self._meeting.leave(run)

    def _phase(self, run: ModelRun, name: str, body: Callable[[ModelRun], None]) -> None:
        """One model's phase; none starts once the session is stopping or the model has failed."""
        self._model_gate(run.model)
        self.bus.publish(ev.PhaseStarted(phase=name, model=run.model))
        run.lm.engine.link.phase = name  # its calls are charged to this phase
        body(run)
        self.bus.publish(ev.PhaseCompleted(phase=name, model=run.model))

    def _each(self, runs: list[ModelRun], fn: Callable[[ModelRun], None]) -> None:
        """Run `fn` for every model concurrently; a model's failure never stops the others."""
        if not runs:
            return
        pool = ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="model")
        futures = [pool.submit(self._guarded, r, fn) for r in runs]
        pool.shutdown(wait=False)
        self._wait_for_models(futures)
        signals: list[BaseException | None] = []
        for run, future in zip(runs, futures, strict=True):
            if future.done():
                signals.append(future.result())
            else:  # stuck in the user's code (a metric that sleeps): left behind, its next call is refused
                log.warning("model %s was still busy %gs after the stop; left behind", run.model, STOP_WAIT_S)
                run.status = "stopped"
                signals.append(SessionStop(self.stop_reason or "user"))
        # re-raise a session-wide signal (stop, budget) after every model has wound down
        for sig in signals:
            if isinstance(sig, SessionStop):
                raise sig
        for sig in signals:
            if isinstance(sig, BudgetExhausted) and sig.model is None:
                raise sig

    def _wait_for_models(self, futures: list[Future[BaseException | None]]) -> None:
        """Until every model's thread returns; once the session is stopping, for STOP_WAIT_S more at most."""
        pending = set(futures)
        while pending and not self.stop_event.is_set():
            pending = wait(pending, timeout=0.2).not_done
        if pending:
            wait(pending, timeout=STOP_WAIT_S)

    def _guarded(self, run: ModelRun, fn: Callable[[ModelRun], None]) -> BaseException | None:
        import dspy

        try:
            with dspy.context(lm=run.lm):
                fn(run)
            return None
        except SessionStop as sig:
            run.status = "stopped"
            return sig
        except BudgetExhausted as sig:
            run.status = "stopped"
            run.error = str(sig)
            self.reserve.done(run.model)  # it makes no more calls: its hold goes back to the others
            return sig
        except ModelFatal as sig:
            self._fail(run, str(sig))
            return None
        except DiskFull:  # a write of this model found no space: the whole session stops, resumable
            self._stop_for_full_disk()
            run.status = "stopped"
            return SessionStop(DISK_FULL_REASON)
        except Exception as exc:  # noqa: BLE001 - a model failing must not stop the others
            log.exception("model %s failed", run.model)
            self._fail(run, run.fatal or self._failure_sentence(run, exc))
            return None

    def _failure_sentence(self, run: ModelRun, exc: Exception) -> str:
        """What ended a model, in words: its failed calls when DSPy says only that it cancelled."""
        from dspy.utils.exceptions import LMError

        text = error_text(exc)
        if text == CANCELLED_BY_DSPY or isinstance(exc, LMError):
            calls = self.call_failures.describe(
                run.model,
                timeout_s=self.config.timeouts.total_s,
                base_url=run.lm.engine.link.endpoint.base_url,
            )
            if calls:
                return calls if text == CANCELLED_BY_DSPY else f"{text} ({calls.rstrip('.')})."
        return text if isinstance(exc, LMError) else f"{type(exc).__name__}: {text}"

    def _fail(self, run: ModelRun, message: str) -> None:
        """No request leaves for a failed model, even one queued in its limiter (the call path
        re-checks the model's health before sending)."""
        self.reserve.done(run.model)
        run.status = "failed"
        run.error = message
        run.lm.engine.link.health.fail(message)
        self.bus.publish(ev.ModelFailed(model=run.model, error=message))
        self._save_model(run)

    # -- scoring -----------------------------------------------------------
    def _metric_for(self, run: ModelRun) -> Callable[..., float]:
        base = self.task.metric

        def metric(example: Any, pred: Any, trace: Any = None, *args: Any) -> float:
            if self.stop_event.is_set():
                raise SessionStop(self.stop_reason)
            if run.fatal:
                raise ModelFatal(run.fatal)
            return float(base(example, pred, trace))

        return metric

    def _evaluate(self, run: ModelRun, program: Any, examples: list[Any], phase: str) -> Evaluation:
        """Score `program`; errored examples are counted (and may degrade the model), not scored.

        A model with no answer at all in an evaluation cannot go on: it fails with the cause."""
        result = evaluate(program, examples, self._metric_for(run), num_threads=self.config.concurrency)
        if run.fatal:
            raise ModelFatal(run.fatal)
        run.last_eval = result.counts()
        tally = run.outcomes.setdefault(phase, Counter())
        tally.update(run.last_eval)
        if result.score is None:
            raise ModelFatal(never_answered(phase, result))
        if run.degraded is None:
            run.degraded = degraded_reason(phase, tally, self.config.degraded_threshold, result.cause())
            if run.degraded:
                self.bus.publish(ev.ModelDegraded(model=run.model, reason=run.degraded))
        return result

    @staticmethod
    def _score(result: Evaluation) -> float:
        assert result.score is not None  # _evaluate fails a model with no answer
        return result.score

    # -- phases per model ----------------------------------------------------
    def _baseline(self, run: ModelRun) -> None:
        run.status, run.phase = "running", "baseline"
        self._save_model(run)
        program = build_program(self.task)
        score = self._score(self._evaluate(run, program, self.task.dev, "baseline"))
        run.program, run.baseline, run.best_dev = program, score, score
        self._round_done(run, "baseline", 0, score, score, 0.0)

    def _optimize(self, run: ModelRun) -> None:
        from .optimizers import RoundInput, run_round

        conv = self.config.convergence
        run.phase = "optimization"
        fresh = build_program(self.task)
        for round_no in range(1, self.config.rounds + 1):
            if conv.target is not None and (run.best_dev or 0) >= conv.target:
                self._converged(run, round_no - 1, f"reached the target score {conv.target}")
                return
            run.round_no = round_no
            self.bus.publish(ev.RoundStarted(model=run.model, round=round_no))
            started = time.time()
            candidate = run_round(
                self.config.optimizer,
                RoundInput(
                    best=run.program,
                    fresh=fresh,
                    trainset=self.task.train,
                    devset=self.task.dev,
                    metric=self._metric_for(run),
                    lm=run.lm,
                    round_no=round_no,
                    seed=self.config.seed,
                    num_threads=self.config.concurrency,
                    settings=self.config.optimizer_settings,
                ),
            )
            score = self._score(self._evaluate(run, candidate, self.task.dev, "optimization"))
            best_before = run.best_dev or 0.0
            if score > best_before:
                run.program, run.best_dev = candidate, score
            gain = (run.best_dev or 0.0) - best_before
            run.stale_rounds = 0 if gain >= conv.min_delta and gain > 0 else run.stale_rounds + 1
            self._round_done(run, "optimization", round_no, score, run.best_dev or 0.0, gain, started)
            if run.stale_rounds >= conv.patience:
                self._converged(run, round_no, f"no gain of {conv.min_delta} for {conv.patience} round(s)")
                return
        run.status = "done"

    def _transfer_within_budget(self, run: ModelRun, leader: ModelRun) -> None:
        """The cross-model trial, skipped when only money held back for others' benchmarks is left."""
        with contextlib.suppress(BudgetReserveReached):
            self._transfer(run, leader)

    def _optimize_within_budget(self, run: ModelRun) -> None:
        """Optimize until the rounds end or only the held-back reserve is left (announced by the budget)."""
        try:
            self._optimize(run)
        except BudgetReserveReached:  # the best program so far goes on to the later phases
            run.status = "done"
        finally:
            self.reserve.optimization_ended(run.model)

    def _converged(self, run: ModelRun, round_no: int, reason: str) -> None:
        run.status = "converged"
        self.bus.publish(ev.ModelConverged(model=run.model, round=round_no, reason=reason))
        self._save_model(run)

    def _round_done(
        self,
        run: ModelRun,
        phase: str,
        round_no: int,
        score: float,
        best: float,
        delta: float,
        started: float | None = None,
    ) -> None:
        assert self.recorder is not None
        stats = self.recorder.take_round_stats(run.model)
        run.last_delta = delta
        # what the round spent and how its examples fared: stored with the round and published alike
        spent = {key: stats[key] for key in ("cost_usd", "tokens_in", "tokens_out", "calls")}
        outcomes: dict[str, Any] = {
            "errored_examples": run.last_eval.get("errored", 0),
            "unparsed": run.last_eval.get("unparsed", 0),
        }
        self.store.record_round(
            self.session_id,
            run.model,
            phase,
            round_no,
            dev_score=score,
            best_dev_score=best,
            **spent,
            started_at=started or stats["first_ts"],
            finished_at=time.time(),
            metrics={
                "latency_p50_ms": stats["latency_p50_ms"],
                "latency_p95_ms": stats["latency_p95_ms"],
                "queue_ms": stats["queue_ms"],
                "throttled_share": stats["throttled_share"],
                "cache_hits": stats["cache_hits"],
                "errors": stats["errors"],
                **outcomes,
            },
        )
        self.store.save_checkpoint(
            self.session_id, run.model, phase, round_no, best, run.program.dump_state()
        )
        if phase == "optimization":  # the program grew: so may its later calls
            self.reserve.update(run.model, stats, improved=best > (run.baseline or 0.0))
        self._cost_updated()
        self.bus.publish(
            ev.RoundCompleted(
                model=run.model,
                round=round_no,
                dev_score=score,
                best_dev_score=best,
                delta=delta,
                **spent,
                latency_p50_ms=stats["latency_p50_ms"],
                **outcomes,
            )
        )
        self._save_model(run)

    def _cost_updated(self) -> None:
        self.bus.publish(
            ev.CostUpdated(
                spent_usd=self.budget.spent,
                budget_usd=self.budget.limit_usd,
                by_model=self.budget.spent_by_model(),
            )
        )

    def _transfer(self, run: ModelRun, leader: ModelRun) -> None:
        """The cross-model trial: the leader's instruction and demos on this model, kept if dev improves."""
        run.phase = "cross_model"
        self.reserve.enter_cross_model(run.model)
        candidate = run.program.deepcopy()
        candidate.load_state(leader.program.dump_state())
        score = self._score(self._evaluate(run, candidate, self.task.dev, "cross_model"))
        before = run.best_dev or 0.0
        kept = score > before
        if kept:
            run.program, run.best_dev = candidate, score
        run.transfer = {"source_model": leader.model, "before": before, "after": score, "kept": kept}
        self.bus.publish(
            ev.CrossModelTransfer(
                model=run.model, source_model=leader.model, before=before, after=score, kept=kept
            )
        )
        self._round_done(run, "cross_model", 0, score, run.best_dev or 0.0, (run.best_dev or 0.0) - before)

    def _benchmark(self, run: ModelRun) -> None:
        from .metrics import model_metrics
        from .stats import bootstrap_ci

        run.phase = "benchmark"
        self.reserve.release_to(run.model)
        testset = self.task.test
        self.bus.publish(ev.BenchmarkProgress(model=run.model, done=0, total=len(testset)))
        assert self.recorder is not None
        self.recorder.take_round_stats(run.model)
        started = time.perf_counter()
        result = self._evaluate(run, run.program, testset, "benchmark")
        seconds = time.perf_counter() - started
        # the test score and its CI are over the examples answered; errored ones are left out
        answered = [(e, s) for e, s in zip(testset, result.items, strict=True) if s.outcome != "errored"]
        scores = [s.score or 0.0 for _, s in answered]
        preds = [s.prediction for _, s in answered]
        score = run.test_score = self._score(result)
        run.test_scores = scores
        run.test_ids = [example_id(e) for e, _ in answered]
        run.test_correct = sum(scores)
        run.test_ci = bootstrap_ci(scores, seed=self.config.seed)
        run.outputs = [self._output_text(p) for p in preds]
        stats = self.recorder.take_round_stats(run.model)
        judged = self._judge_quality(run, [e for e, _ in answered], preds) if self._judge_lms else None
        rounds = [r for r in self.store.rounds(self.session_id) if r["model"] == run.model]
        began = min((r["started_at"] for r in rounds if r["started_at"]), default=None)
        metrics = model_metrics(
            test_scores=scores,
            outputs=run.outputs,
            judged=judged,
            totals=self.recorder.model_totals(run.model),
            benchmark=stats,
            benchmark_seconds=seconds,
            baseline=run.baseline,
            best_dev=run.best_dev,
            best_by_round=[r["best_dev_score"] for r in rounds if r["phase"] == "optimization"],
            converged=run.status == "converged",
            priced=self._priced(run.model),
            offline=run.provider in OFFLINE_PROVIDERS,
            memory_mb=self.memory.peak_mb(began),
        )
        run.status = "done" if run.status != "converged" else "converged"
        self.store.update_model(
            self.session_id,
            run.model,
            results={
                "benchmark_latency_p50_ms": stats["latency_p50_ms"],
                "benchmark_latency_p95_ms": stats["latency_p95_ms"],
                "benchmark_cost_usd": stats["cost_usd"],
                "test_scores": scores,
                "test_ids": run.test_ids,
                "metrics": metrics,
            },
        )
        self.bus.publish(
            ev.BenchmarkProgress(model=run.model, done=len(testset), total=len(testset), test_score=score)
        )
        self._save_model(run)
        self.reserve.done(run.model)  # what is left of its hold goes back to the others

    def _priced(self, model: str) -> bool:
        from .pricing import resolve_price

        configured = next((m for m in self.config.models if m.id == model), None)
        return configured is not None and resolve_price(model, configured.price) is not None

    JUDGED_ASPECTS = {
        "coherence": "Is the response well-formed and internally consistent?",
        "relevance": "Does the response address the task inputs?",
        "creativity": "Is the response original rather than a copy of the inputs?",
    }
    JUDGED_SAMPLE = 20

    def _judge_quality(self, run: ModelRun, testset: list[Any], preds: list[Any]) -> dict[str, float | None]:
        """Coherence, relevance and creativity as rated by the configured judge model on a sample."""
        import dspy

        rate = dspy.Predict(self._aspect_signature)
        sums = dict.fromkeys(self.JUDGED_ASPECTS, 0.0)
        n = 0
        for example, pred in list(zip(testset, preds, strict=False))[: self.JUDGED_SAMPLE]:
            if pred is None:
                continue
            inputs = json.dumps({k: example[k] for k in example.inputs()}, default=str)
            with dspy.context(lm=self._judge_lms.get(run.model)):
                for aspect, question in self.JUDGED_ASPECTS.items():
                    out = rate(aspect=question, task_inputs=inputs, response=self._output_text(pred))
                    sums[aspect] += max(0.0, min(1.0, float(out.score)))
            n += 1
        return {k: (v / n if n else None) for k, v in sums.items()}

    def _output_text(self, pred: Any) -> str:
        if pred is None:
            return ""
        try:
            return " ".join(str(v) for k, v in pred.items() if k != "reasoning")
        except AttributeError:
            return str(pred)

    # -- persistence -------------------------------------------------------
    def _save_model(self, run: ModelRun) -> None:
        assert self.recorder is not None
        totals = self.recorder.model_totals(run.model)
        ci = run.test_ci or (None, None)
        self.store.update_model(
            self.session_id,
            run.model,
            status=run.status,
            phase=run.phase,
            baseline_score=run.baseline,
            best_dev_score=run.best_dev,
            test_score=run.test_score,
            test_ci_low=ci[0],
            test_ci_high=ci[1],
            cost_usd=totals["cost_usd"],
            calls=totals["calls"],
            error=run.error,
            results={
                "round": run.round_no,
                "last_delta": run.last_delta,
                "transfer": run.transfer,
                "tokens_in": totals["tokens_in"],
                "tokens_out": totals["tokens_out"],
                "cache_hits": totals["cache_hits"],
                "errors": totals["errors"],
                "cancelled": totals["cancelled"],
                "latency_p50_ms": totals["latency_p50_ms"],
                "latency_p95_ms": totals["latency_p95_ms"],
                "queue_ms": totals["queue_ms"],
                "throttled_share": totals["throttled_share"],
                "program_path": run.program_path,
                "errored_examples": {phase: t["errored"] for phase, t in run.outcomes.items()},
                "unparsed": sum(t["unparsed"] for t in run.outcomes.values()),
                "outcomes": {phase: dict(t) for phase, t in run.outcomes.items()},
                "degraded": run.degraded,
            },
        )

    def _report(self) -> None:
        from .exports import export_program, write_reports

        self.bus.publish(ev.PhaseStarted(phase="report"))
        out_dir = self.paths.exports_dir / self.session_id
        for run in self.runs.values():
            if run.program is not None:
                run.program_path = str(export_program(run.program, out_dir / f"{slug(run.model)}.json"))
                self._save_model(run)
        assert self.recorder is not None
        self.recorder.flush()
        self.report_paths = {
            fmt: str(p) for fmt, p in write_reports(self.store, self.session_id, out_dir).items()
        }
        self.bus.publish(ev.ReportReady(paths=self.report_paths))
        self.bus.publish(ev.PhaseCompleted(phase="report"))


def slug(model: str) -> str:
    """A file name for a model id, one per id: `offline/small` -> `offline_small`; an id whose name
    has other characters (`openai/a:b`, `a_b`, `a/b`) gets a short hash of the whole id as well."""
    provider, sep, name = model.partition("/")
    clean = "".join(c if c.isalnum() or c in "-." else "_" for c in model)
    if sep and "_" not in provider and all(c.isalnum() or c in "-." for c in name):
        return clean
    return f"{clean}-{hashlib.sha1(model.encode()).hexdigest()[:8]}"


def program_dir(paths: Paths, session_id: str) -> Path:
    return paths.exports_dir / session_id
