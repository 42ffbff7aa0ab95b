"""The real seeker screening: duplicate faces nearby and location safety.

`FaceAndSafetyScreener.screen(request)` implements core.seekers.screening.Screener:

1. Face. The seeker photo's embedding (core.seekers.faces) is compared with every embedding stored
   within `duplicate_window_min` and `duplicate_radius_m` (governed Params) whose order has not
   ended without a meal, in two stages (core.seekers.face_decision): cosine ≥ face_sure_bp →
   verdict "duplicate", with `minutes_ago` and `distance_m` for "this person was given a meal 35
   minutes ago, 40 m from here"; cosine in [face_match_threshold_bp, face_sure_bp) → verdict
   "uncertain" (never a refusal: the donor is asked for a second photo, `second_photo_id`, and
   the request is a duplicate only if both photos match the same stored face). A request with
   `review` set skips the comparison and passes marked for review. No face → the check cannot run: the request passes with face="none",
   face_confidence="low". Several faces of similar size → verdict "retake" (ask for a photo of
   just the seeker); a photo where one face is at least twice as large as any other uses it.
   If the face model cannot run (weights missing) the check is skipped loudly: face="unavailable",
   an error in the log; `warm_up()` at start-up surfaces that before any donor does.
2. Safety. core.seekers.safety scores hour, weekday, the sun's elevation, nearby delivery outcomes and
   worker safety reports, and the donor's two answers. Below safety_threshold_bp / 10000 →
   verdict "unsafe" with reason codes (core.seekers.safety.REASONS).

Transactions. `screen(uow, request)` is called by core.orders.service.start_order with the
caller's unit of work (the storage port), so the area lock, the candidate read, the new embedding
and the safety assessment commit — or roll back — together with the order's status change.

CPU. The embedding takes up to a second. `prefetch(photo_id)` starts it in the background as
soon as the photo is stored (call it after commit, e.g. `uow.later`), so that by the time the
donor shares the location `screen` only waits for a finished result instead of computing while
the caller's transaction is open. Results are kept in memory for a few minutes, per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.ports import UnitOfWork
from core.seekers import face_decision, faces, safety
from core.seekers.screening import Candidate, ScreeningRequest, ScreeningResult, Verdict

log = logging.getLogger(__name__)

METHOD = "face+safety"
HISTORY_RADIUS_M = 300  # outcomes this close count as "near here" for safety
HISTORY_DAYS = 180
PREFETCH_TTL_S = 900
PREFETCH_MAX = 256


class PhotoSource(Protocol):
    """Where seeker photos are read from (core.seekers.photos.LocalPhotoStore)."""

    async def get(self, photo_id: str) -> bytes | None: ...


# (unit of work, lat, lng, since) -> number of worker-reported safety problems near the place.
IssueCounter = Callable[[UnitOfWork, float, float, datetime], Awaitable[int]]


async def reported_issues(uow: UnitOfWork, lat: float, lng: float, since: datetime) -> int:
    """Safety issues workers reported near a place (their one tap after each delivery)."""
    return await uow.screening.issues_near(lat, lng, HISTORY_RADIUS_M, since)


class FaceAndSafetyScreener:
    """Duplicate-seeker and location-safety screening on the service's own database."""

    def __init__(
        self,
        photos: PhotoSource,
        safety_model: safety.SafetyModel | None = None,
        *,
        issue_counter: IssueCounter = reported_issues,
        embedder: Callable[[bytes], Awaitable[faces.FaceResult]] = faces.embed_async,
    ) -> None:
        self.photos = photos
        self.safety_model: safety.SafetyModel = safety_model or safety.RuleModel()
        self._issue_counter = issue_counter
        self._embed = embedder
        self._prefetched: dict[str, tuple[float, asyncio.Task[faces.FaceResult]]] = {}

    # --- faces -------------------------------------------------------------------------------

    def prefetch(self, photo_id: str) -> None:
        """Start embedding a stored seeker photo in the background (returns at once)."""
        self._expire_prefetched()
        if photo_id not in self._prefetched:
            task = asyncio.get_running_loop().create_task(self._embed_stored(photo_id), name=f"embed:{photo_id}")
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # never "never retrieved"
            self._prefetched[photo_id] = (time.monotonic(), task)

    async def warm_up(self) -> None:
        """Load the face model now (call at start-up, so missing weights fail loudly there)."""
        if self._embed is faces.embed_async:
            await asyncio.to_thread(faces.load_model)

    async def face(self, photo_id: str | None, photo: bytes | None = None) -> faces.FaceResult:
        """The face in a seeker photo (from the prefetch cache when it was started)."""
        if photo is not None:
            return await self._safe_embed(photo)
        if photo_id is None:
            return faces.FaceResult(faces.FaceStatus.NONE)
        entry = self._prefetched.pop(photo_id, None)
        if entry is not None:
            try:
                return await entry[1]
            except Exception:
                log.exception("prefetched embedding of %s failed; trying again", photo_id)
        return await self._embed_stored(photo_id)

    async def _embed_stored(self, photo_id: str) -> faces.FaceResult:
        data = await self.photos.get(photo_id)
        if data is None:
            return faces.FaceResult(faces.FaceStatus.NONE)
        return await self._safe_embed(data)

    async def _safe_embed(self, data: bytes) -> faces.FaceResult:
        try:
            return await self._embed(data)
        except ValueError:  # not an image we can decode: same as no face
            return faces.FaceResult(faces.FaceStatus.NONE)
        except faces.FaceModelUnavailable:
            # Fail open, loudly: a missing model must not stop every meal; the order carries
            # face="unavailable" and operators see the error (warm_up catches it at start-up).
            log.exception("face model unavailable: the duplicate check is skipped")
            return faces.FaceResult(faces.FaceStatus.UNAVAILABLE)

    def _expire_prefetched(self) -> None:
        now = time.monotonic()
        for key, (started, task) in list(self._prefetched.items()):
            if now - started > PREFETCH_TTL_S or len(self._prefetched) > PREFETCH_MAX:
                task.cancel()
                self._prefetched.pop(key, None)

    # --- screening ---------------------------------------------------------------------------

    async def screen(self, uow: UnitOfWork, request: ScreeningRequest) -> ScreeningResult:
        """Screen a seeker request in the caller's unit of work (see module docstring)."""
        face = await self.face(request.photo_id, request.photo)  # before any database work
        second = await self.face(request.second_photo_id) if request.second_photo_id else None
        return await self._screen(uow, request, face, second)

    async def _screen(
        self, uow: UnitOfWork, request: ScreeningRequest, face: faces.FaceResult, second: faces.FaceResult | None = None
    ) -> ScreeningResult:
        """The checks, on the caller's transaction; on "pass" the embedding and assessment are
        written in it, so they share the caller's commit."""
        order_id = request.order_id
        repo, params = uow.screening, await uow.params.current()
        face_details: dict[str, Any] = {"face": str(face.status), "faces": face.faces}

        if face.status is faces.FaceStatus.MANY:
            return ScreeningResult(Verdict.RETAKE, METHOD, {**face_details, "reason": "many_faces"})
        if second is not None and not second.ok:
            # The second photo shows no usable face: nothing is decided; the donor may try again.
            return ScreeningResult(Verdict.UNCERTAIN, METHOD, {**face_details, "second_face": str(second.status),
                                                               "reason": "second_photo_unusable"})  # fmt: skip

        await repo.lock_area(request.lat, request.lng)
        uncertain = False
        if request.review is not None:
            # The donor answered for the face check (no second photo, or "someone else"): the
            # order goes on, marked for people to look at; no comparison decides.
            face_details["review"] = request.review
        elif face.ok:
            assert face.embedding is not None
            since = request.at - timedelta(minutes=params.duplicate_window_min)
            found = await repo.candidates(since, request.lat, request.lng, params.duplicate_radius_m)
            decision = face_decision.decide(
                [c.embedding for c in found], face.embedding, second.embedding if second else None,
                params.face_match_threshold_bp, params.face_sure_bp,
            )  # fmt: skip
            face_details.update(_decision_details(decision, found))
            if decision.outcome.duplicate:
                assert decision.index is not None
                prior = found[decision.index]
                minutes = (request.at - datetime.fromisoformat(prior.created_at)).total_seconds() / 60
                return ScreeningResult(Verdict.DUPLICATE, METHOD, {
                    **face_details, "minutes_ago": max(int(minutes), 0), "distance_m": int(round(prior.distance_m)),
                    "window_min": params.duplicate_window_min, "radius_m": params.duplicate_radius_m,
                })  # fmt: skip
            uncertain = decision.outcome is face_decision.Outcome.UNCERTAIN
        else:
            face_details["face_confidence"] = "low"  # no face (or no model): no duplicate check ran

        history_since = request.at - timedelta(days=HISTORY_DAYS)
        good, failed = await repo.outcomes_near(request.lat, request.lng, HISTORY_RADIUS_M, history_since)
        issues = await self._issue_counter(uow, request.lat, request.lng, history_since)
        features = safety.SafetyFeatures.at(
            request.lat, request.lng, request.at, good=good, failed=failed, issues=issues,
            busy=request.busy, lit=request.lit,
        )  # fmt: skip
        verdict = safety.assess(self.safety_model, features, params.safety_threshold_bp)
        await repo.add_assessment(order_id, verdict.score_bp, verdict.model_version, features.as_dict())
        safety_details = {"safety_bp": verdict.score_bp, "threshold_bp": verdict.threshold_bp, "model_version": verdict.model_version}
        if not verdict.safe:
            return ScreeningResult(Verdict.UNSAFE, METHOD, {**face_details, **safety_details, "reasons": list(verdict.reasons)})
        if uncertain:
            # Safety first, so a donor is not asked for a second photo of a place that is unsafe.
            return ScreeningResult(Verdict.UNCERTAIN, METHOD, {**face_details, **safety_details, "reason": "lookalike"})

        if face.ok:
            assert face.embedding is not None
            expires = request.at + timedelta(minutes=params.duplicate_window_min)
            await repo.add_embedding(order_id, request.lat, request.lng, face.embedding, request.at, expires)
        return ScreeningResult(Verdict.PASS, METHOD, {"checked": True, **face_details, **safety_details})


def _decision_details(decision: face_decision.FaceDecision, found: list[Candidate]) -> dict[str, Any]:
    """What the face comparison decided, for the order and its event: ids and scores, no photo."""
    if decision.index is None:
        return {}
    out: dict[str, Any] = {"face_outcome": str(decision.outcome), "similarity_bp": decision.similarity_bp}
    if decision.outcome is not face_decision.Outcome.NO_MATCH:
        out["duplicate_of_order"] = found[decision.index].order_id
    if decision.second_similarity_bp is not None:
        out["second_similarity_bp"] = decision.second_similarity_bp
    return out
