"""Brand profiles: the name, voice, audience and example posts that shape AI generation.

Members read a workspace's brands; editors and admins create, change and delete them. A name is
unique within a workspace whatever its letter case. Every function checks the actor's role in
the workspace first (`workspaces.authorize`), so no brand is ever read or written across
workspaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from postforge.ai.base import BrandContext
from postforge.models import Brand, utcnow
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.tenancy import workspaces

NAME_MAX = 120
TEXT_MAX = 1000  # tone of voice, audience
SAMPLE_MAX_CHARS = 2000
SAMPLES_MAX = 5
BRANDS_PER_WORKSPACE_MAX = 100


@dataclass(frozen=True)
class BrandView:
    id: int
    workspace_id: int
    name: str
    tone_of_voice: str
    target_audience: str
    sample_posts: tuple[str, ...]
    updated_at: datetime


def _view(brand: Brand) -> BrandView:
    return BrandView(
        id=brand.id or 0,
        workspace_id=brand.workspace_id,
        name=brand.name,
        tone_of_voice=brand.tone_of_voice,
        target_audience=brand.target_audience,
        sample_posts=tuple(brand.sample_posts or ()),
        updated_at=brand.updated_at,
    )


def context_of(brand: BrandView) -> BrandContext:
    """What the AI writer is told about a brand."""
    return BrandContext(
        name=brand.name,
        tone_of_voice=brand.tone_of_voice,
        target_audience=brand.target_audience,
        sample_posts=brand.sample_posts,
    )


def _clean_name(name: object) -> str:
    value = " ".join(str(name or "").split())
    if not value:
        raise ValidationFailed("Give the brand a name.", field="name")
    if len(value) > NAME_MAX:
        raise ValidationFailed(f"Keep the brand name to {NAME_MAX} characters.", field="name")
    return value


def _clean_text(value: object, *, field: str, label: str) -> str:
    text = str(value or "").strip()
    if len(text) > TEXT_MAX:
        raise ValidationFailed(f"Keep the {label} to {TEXT_MAX} characters.", field=field)
    return text


def _clean_samples(samples: Sequence[str] | str | None) -> list[str]:
    if samples is None:
        return []
    if isinstance(samples, str):
        raise ValidationFailed("Example posts must be a list of posts.", field="sample_posts")
    kept = [str(sample).strip() for sample in samples if str(sample or "").strip()]
    if len(kept) > SAMPLES_MAX:
        raise ValidationFailed(f"Give at most {SAMPLES_MAX} example posts.", field="sample_posts")
    for number, sample in enumerate(kept, start=1):
        if len(sample) > SAMPLE_MAX_CHARS:
            raise ValidationFailed(
                f"Example post {number} is {len(sample)} characters; keep each to {SAMPLE_MAX_CHARS}.",
                field="sample_posts",
            )
    return kept


def _load(session: Session, workspace_id: int, brand_id: int) -> Brand:
    brand = session.get(Brand, brand_id) if isinstance(brand_id, int) else None
    if brand is None or brand.workspace_id != workspace_id:
        raise NotFound("That brand does not exist in this workspace (it may have been deleted).")
    return brand


def _ensure_unique(session: Session, workspace_id: int, name: str, *, except_id: int | None = None) -> None:
    query = select(Brand.id).where(
        Brand.workspace_id == workspace_id, func.lower(Brand.name) == name.casefold()
    )
    if except_id is not None:
        query = query.where(col(Brand.id) != except_id)
    if session.exec(query).first() is not None:
        raise Conflict(f"A brand named “{name}” already exists in this workspace.", field="name")


def _flush(session: Session, brand: Brand) -> None:
    """Write the row in a savepoint so a concurrent duplicate name becomes a Conflict, nothing else."""
    try:
        with session.begin_nested():
            session.add(brand)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"A brand named “{brand.name}” already exists in this workspace.", field="name"
        ) from None


def list_brands(session: Session, *, actor_id: int, workspace_id: int) -> list[BrandView]:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    rows = session.exec(
        select(Brand)
        .where(Brand.workspace_id == workspace_id)
        .order_by(func.lower(Brand.name), col(Brand.id))
    ).all()
    return [_view(brand) for brand in rows]


def get_brand(session: Session, *, actor_id: int, workspace_id: int, brand_id: int) -> BrandView:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    return _view(_load(session, workspace_id, brand_id))


def create_brand(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    name: str,
    tone_of_voice: str = "",
    target_audience: str = "",
    sample_posts: Sequence[str] | None = None,
) -> BrandView:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    clean_name = _clean_name(name)
    brand = Brand(
        workspace_id=workspace_id,
        name=clean_name,
        tone_of_voice=_clean_text(tone_of_voice, field="tone_of_voice", label="tone of voice"),
        target_audience=_clean_text(target_audience, field="target_audience", label="audience"),
        sample_posts=_clean_samples(sample_posts),
    )
    count = session.exec(
        select(func.count()).select_from(Brand).where(Brand.workspace_id == workspace_id)
    ).one()
    if count >= BRANDS_PER_WORKSPACE_MAX:
        raise ValidationFailed(
            f"A workspace can have at most {BRANDS_PER_WORKSPACE_MAX} brands.", field="name"
        )
    _ensure_unique(session, workspace_id, clean_name)
    _flush(session, brand)
    return _view(brand)


def update_brand(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    brand_id: int,
    name: str | None = None,
    tone_of_voice: str | None = None,
    target_audience: str | None = None,
    sample_posts: Sequence[str] | None = None,
) -> BrandView:
    """Change the given fields (None keeps a field as it is)."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    brand = _load(session, workspace_id, brand_id)
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = _clean_name(name)
        _ensure_unique(session, workspace_id, values["name"], except_id=brand.id)  # type: ignore[arg-type]
    if tone_of_voice is not None:
        values["tone_of_voice"] = _clean_text(tone_of_voice, field="tone_of_voice", label="tone of voice")
    if target_audience is not None:
        values["target_audience"] = _clean_text(target_audience, field="target_audience", label="audience")
    if sample_posts is not None:
        values["sample_posts"] = _clean_samples(sample_posts)
    for key, value in values.items():
        setattr(brand, key, value)
    brand.updated_at = utcnow()
    _flush(session, brand)
    return _view(brand)


def delete_brand(session: Session, *, actor_id: int, workspace_id: int, brand_id: int) -> None:
    """Delete a brand; posts written with it keep their text and lose only the link."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    brand = _load(session, workspace_id, brand_id)
    session.delete(brand)
    session.flush()
