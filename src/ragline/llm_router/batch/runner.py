"""Run a set of chat requests through a vendor's batch API: submit, poll, download, retry the
failed items, price at the batch rate, record cost events; resumable from the journal.

    runner = BatchRunner(router, data_dir / "batches", on_event=console.print)
    run = runner.run(requests)              # inside the work's cost scope
    run.results[0]                          # a Completion, or the ProviderError of that item
    run.mode, run.batches, run.retried, run.failed, run.cost_usd

The deployment is the router's first (its policy's choice for this key); a provider without a
batch API (vllm, local, extractive) answers the same requests synchronously through the router,
and `mode` says so. With a batch API:
1. every request becomes the body its provider's synchronous call sends (`VendorBatches.body`);
   the request set is named by a SHA-256 (`journal.request_set_key`);
2. a journal entry of that name means this work was submitted before: its batch is polled
   again (a crash, a kill -9 or `max_wait_s` lost nothing), a finished entry's replies are
   served as they are (no vendor call, no new cost: `mode` "journal");
3. otherwise one batch is submitted, its id journalled at once, then polled with waits from
   `llm.batch.poll_s` doubling to `max_poll_s` (each check reported through `on_event`);
4. the replies are downloaded and journalled; each is priced at the batch rate
   (`PriceTable.batch_cost`) and recorded as a cost event with route "batch" and the
   request's prompt id, billed to the open cost scope (and charged to the budgets);
5. failed items go again as a new batch, up to `llm.batch.retries` times; those still failing
   come back as `ServerError`s naming the vendor's reason.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeVar

from ragline.core.chat import ChatModel, ChatRequest, Completion
from ragline.core.costs import billing, llm_event
from ragline.llm_router.batch.journal import Journal, JournalEntry, Round, request_set_key
from ragline.llm_router.batch.vendors import BatchStatus, Body, VendorBatches
from ragline.llm_router.caps import with_default_cap
from ragline.llm_router.errors import ProviderError, ServerError, Timeout, Unavailable
from ragline.llm_router.guards.retry import call_with_retry
from ragline.llm_router.router import Router

Outcome = Completion | ProviderError
Mode = Literal["batch", "journal", "sync"]
T = TypeVar("T")


def vendor_of(model: ChatModel) -> VendorBatches | None:
    """The batch client of a resolved provider model; None for providers without a batch API."""
    try:
        from ragline.llm_router.providers.openai_chat import OpenAIChatModel
    except ImportError:  # the openai extra is not installed: no openai model either
        pass
    else:
        if isinstance(model, OpenAIChatModel):
            from ragline.llm_router.batch.openai_batch import OpenAIBatches

            return OpenAIBatches(model)
    try:
        from ragline.llm_router.providers.anthropic_chat import AnthropicChatModel
    except ImportError:
        return None
    if isinstance(model, AnthropicChatModel):
        from ragline.llm_router.batch.anthropic_batch import AnthropicBatches

        return AnthropicBatches(model)
    return None


@dataclass(frozen=True, slots=True)
class BatchRun:
    """What `BatchRunner.run` did: results in request order, and how they were obtained.

    `mode`: "batch" (submitted or resumed now), "journal" (a finished batch's stored replies,
    at no cost), "sync" (no batch API: the router answered). `batches`: batches created by
    this call (0 on a resume). `cost_usd`: what this call recorded in the ledger.
    """

    results: tuple[Outcome, ...]
    deployment: str
    mode: Mode
    batches: int = 0
    retried: int = 0
    failed: int = 0
    cost_usd: Decimal = Decimal(0)


@dataclass
class _Work:
    """One run's requests by custom id, their bodies, and who pays."""

    deployment: str
    requests: dict[str, ChatRequest]
    bodies: dict[str, Body]
    key: str | None
    request_id: str
    created: int = 0
    retried: int = 0
    usd: Decimal = Decimal(0)


class BatchRunner:
    """Batches over a router's first deployment (see the module docstring).

    runner = BatchRunner(router, Path(".ragline/batches"), on_event=print, sleep=time.sleep)
    runner.run(requests, key="eval-judge").results
    """

    def __init__(
        self,
        router: Router,
        folder: Path,
        *,
        on_event: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        vendor_for: Callable[[ChatModel], VendorBatches | None] = vendor_of,
    ) -> None:
        self.router = router
        self.journal = Journal(folder)
        self.config = router.config.batch
        self._say = on_event or (lambda _line: None)
        self._sleep = sleep
        self._vendor_for = vendor_for

    def run(self, requests: Sequence[ChatRequest], *, key: str | None = None) -> BatchRun:
        """Answer every request (see the module docstring); errors per item, never raised
        for one item's failure. Raises `Timeout` when polling passes `max_wait_s`."""
        key, request_id = billing(key, None)
        asked = [with_default_cap(r, self.router.config.max_tokens) for r in requests]
        deployment = self.router.deployments(key or request_id)[0].model
        model = self.router.parts.registry.resolve(deployment, self.router.config)
        vendor = self._vendor_for(model)
        if vendor is None:
            return self._sync(asked, deployment, key, request_id)
        ids = [f"r-{i}" for i in range(len(asked))]
        work = _Work(deployment, dict(zip(ids, asked, strict=True)), {}, key, request_id)
        early: dict[str, ProviderError] = {}
        for cid, request in work.requests.items():
            try:
                work.bodies[cid] = vendor.body(request)
            except ProviderError as exc:  # e.g. a regex this vendor cannot honour
                early[cid] = exc
        entry, mode = self._entry(work)
        if mode == "batch":
            self._finish(vendor, work, entry)
        results = tuple(early.get(cid) or self._outcome(entry, cid, mode) for cid in ids)
        failed = sum(isinstance(r, ProviderError) for r in results)
        return BatchRun(results, deployment, mode, work.created, work.retried, failed, work.usd)

    def _entry(self, work: _Work) -> tuple[JournalEntry, Mode]:
        key = request_set_key(work.deployment, list(work.bodies.values()))
        entry = self.journal.load(key)
        if entry is None:
            return JournalEntry(key, work.deployment, len(work.bodies)), "batch"
        if entry.finished:
            self._say(
                f"batch journal {key[:12]}: finished before; {len(entry.replies)} replies "
                "served from it, no new cost"
            )
            return entry, "journal"
        ids = ", ".join(r.batch_id for r in entry.rounds)
        self._say(f"batch journal {key[:12]}: resuming {ids} (no new batch for the same work)")
        return entry, "batch"

    def _finish(self, vendor: VendorBatches, work: _Work, entry: JournalEntry) -> None:
        """Poll, download, charge and retry until every item has a reply or no retry is left."""
        while True:
            for done in (r for r in entry.rounds if r.downloaded and not r.charged):
                self._charge(work, entry, done)
            pending = entry.pending()
            if pending is not None:
                self._download(vendor, work, entry, pending)
                continue
            failed = [c for c in work.bodies if not isinstance(entry.replies.get(c), Completion)]
            if not failed or len(entry.rounds) > self.config.retries:
                entry.finished = True
                self.journal.save(entry)
                return
            if entry.rounds:
                work.retried += len(failed)
                self._say(
                    f"retrying {len(failed)} failed items as a new batch "
                    f"(retry {len(entry.rounds)} of {self.config.retries})"
                )
            self._submit(vendor, work, entry, failed)

    def _submit(
        self, vendor: VendorBatches, work: _Work, entry: JournalEntry, ids: list[str]
    ) -> None:
        batch_id = vendor.submit([(cid, work.bodies[cid]) for cid in ids])
        entry.rounds.append(Round(batch_id, ids))
        self.journal.save(entry)  # at once: a crash from here on resumes this batch
        work.created += 1
        self._say(f"submitted {len(ids)} requests to {work.deployment} as batch {batch_id}")

    def _download(
        self, vendor: VendorBatches, work: _Work, entry: JournalEntry, pending: Round
    ) -> None:
        self._poll(vendor, pending.batch_id)
        asked = {cid: work.requests[cid] for cid in pending.ids}
        replies = self._retrying(lambda: vendor.results(pending.batch_id, asked))
        for cid in pending.ids:
            entry.replies[cid] = replies.get(cid, "no reply in the batch's results")
        pending.downloaded = True
        self.journal.save(entry)
        good = sum(isinstance(entry.replies[c], Completion) for c in pending.ids)
        self._say(
            f"downloaded batch {pending.batch_id}: {good} replies, {len(pending.ids) - good} failed"
        )

    def _poll(self, vendor: VendorBatches, batch_id: str) -> BatchStatus:
        wait, waited = self.config.poll_s, 0.0
        while True:
            status = self._retrying(lambda: vendor.status(batch_id))
            self._say(
                f"polling {batch_id}: {status.completed}/{status.total} completed, "
                f"{status.failed} failed ({status.state})"
            )
            if status.done:
                return status
            if waited >= self.config.max_wait_s:
                raise Timeout(
                    f"batch {batch_id} is still {status.state} after {waited:.0f} s of polling "
                    "(llm.batch.max_wait_s); rerun the same command later to resume it: the "
                    "journal keeps its id, nothing is submitted twice"
                )
            self._sleep(wait)
            waited += wait
            wait = min(wait * 2, self.config.max_poll_s)

    def _retrying(self, call: Callable[[], T]) -> T:
        """A status check or download, retried on the router's retry policy (a 5xx or 429
        from the batch endpoints is as transient as from the chat endpoint)."""
        return call_with_retry(call, self.router.config.retry, sleep=self._sleep)

    def _charge(self, work: _Work, entry: JournalEntry, done: Round) -> None:
        """Price each reply of `done` at the batch rate and record its cost event."""
        parts = self.router.parts
        for cid in done.ids:
            reply = entry.replies.get(cid)
            if not isinstance(reply, Completion):
                continue
            usd = self._price(reply, work.deployment)
            if usd:
                parts.budgets.charge(work.key, usd)
            request = work.requests[cid]
            event = llm_event(
                reply.model,
                reply.usage,
                usd,
                work.request_id,
                key=work.key,
                route="batch",
                prompt=request.prompt,
                finish_reason=reply.finish_reason,
            )
            parts.sink.record(event)
            work.usd += usd
            entry.replies[cid] = dataclasses.replace(
                reply, cost_usd=float(usd), attempts=(work.deployment,)
            )
        done.charged = True
        self.journal.save(entry)

    def _price(self, reply: Completion, deployment: str) -> Decimal:
        prices = self.router.parts.prices
        for name in (reply.model, deployment):
            if prices.llm.price(name) is not None:
                return prices.llm.batch_cost(name, reply.usage)
        if prices.unpriced == "free":
            return Decimal(0)
        where = prices.llm.source or "the price table (costs.pricing)"
        raise Unavailable(
            f"{deployment} has no price in {where}; add it there, or set costs.unpriced: free"
        )

    def _outcome(self, entry: JournalEntry, cid: str, mode: Mode) -> Outcome:
        reply = entry.replies.get(cid, "never submitted")
        if isinstance(reply, str):
            tries = len([r for r in entry.rounds if cid in r.ids])
            return ServerError(
                f"{entry.deployment} batch item {cid} failed {tries} time(s): {reply}; "
                "rerun later (llm.batch.retries sets how often failed items are resubmitted)"
            )
        if mode == "journal":  # paid for by the run that downloaded it
            return dataclasses.replace(reply, cost_usd=0.0, cache="exact")
        return reply

    def _sync(
        self, asked: Sequence[ChatRequest], deployment: str, key: str | None, request_id: str
    ) -> BatchRun:
        self._say(
            f"{deployment} has no batch API: {len(asked)} requests run synchronously "
            "through the router"
        )
        results: list[Outcome] = []
        for request in asked:
            try:
                results.append(self.router.complete(request, key=key, request_id=request_id))
            except ProviderError as exc:
                results.append(exc)
        usd = sum(
            (Decimal(str(r.cost_usd)) for r in results if isinstance(r, Completion)), Decimal(0)
        )
        failed = sum(isinstance(r, ProviderError) for r in results)
        return BatchRun(tuple(results), deployment, "sync", failed=failed, cost_usd=usd)
