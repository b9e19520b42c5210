"""The post status machine: every move, legal or not, and a post's status from its destinations."""

import itertools

import pytest

from postforge.models import DestinationStatus, PostStatus
from postforge.services.content import post_status
from postforge.services.kernel.errors import Conflict

S = PostStatus
D = DestinationStatus
LEGAL = {
    (S.DRAFT, S.SCHEDULED),
    (S.SCHEDULED, S.DRAFT),
    (S.SCHEDULED, S.PUBLISHING),
    (S.SCHEDULED, S.CANCELLED),
    (S.PUBLISHING, S.PUBLISHED),
    (S.PUBLISHING, S.PARTIALLY_PUBLISHED),
    (S.PUBLISHING, S.FAILED),
    (S.PUBLISHING, S.SCHEDULED),
    (S.PUBLISHING, S.NEEDS_REVIEW),
    (S.PARTIALLY_PUBLISHED, S.PUBLISHING),
    (S.NEEDS_REVIEW, S.SCHEDULED),  # "post it again" on its only account: waiting for the worker
    (S.NEEDS_REVIEW, S.PUBLISHING),  # "post it again", or a retry of its failed accounts
    (S.NEEDS_REVIEW, S.PUBLISHED),
    (S.NEEDS_REVIEW, S.PARTIALLY_PUBLISHED),
    (S.NEEDS_REVIEW, S.FAILED),
    (S.FAILED, S.SCHEDULED),
    (S.FAILED, S.PUBLISHING),
    (S.FAILED, S.DRAFT),
    (S.FAILED, S.CANCELLED),
    (S.CANCELLED, S.DRAFT),
    (S.CANCELLED, S.SCHEDULED),
}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_moves_are_allowed(current, target):
    assert post_status.can_move(current, target)
    assert post_status.require_move(current.value, target.value) is target


ILLEGAL = sorted(set(itertools.product(S, S)) - LEGAL)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_other_move_is_refused_with_a_clear_reason(current, target):
    assert not post_status.can_move(current, target)
    with pytest.raises(Conflict) as refusal:
        post_status.require_move(current, target)
    reason = post_status.REASONS.get((current, target), "")
    assert (
        refusal.value.message
        == (
            f"This post is {post_status.LABELS[current]}, so it can't become {post_status.LABELS[target]}. {reason}"
        ).strip()
    )


def test_the_table_covers_every_status_and_published_is_final():
    assert set(post_status.ALLOWED_MOVES) == set(S)
    assert post_status.ALLOWED_MOVES[S.PUBLISHED] == frozenset()
    assert len(ILLEGAL) + len(LEGAL) == len(S) ** 2


@pytest.mark.parametrize("status", list(S))
def test_only_unpublished_posts_are_editable(status):
    editable = status in {S.DRAFT, S.SCHEDULED, S.FAILED, S.CANCELLED}
    if editable:
        assert post_status.require_editable(status) is status
    else:
        with pytest.raises(Conflict, match="can't be edited"):
            post_status.require_editable(status)


def test_refusals_say_what_to_do_instead():
    with pytest.raises(Conflict, match="Duplicate it to post it again"):
        post_status.require_editable(S.PUBLISHED)
    with pytest.raises(Conflict, match="Retry the failed accounts"):
        post_status.require_editable(S.PARTIALLY_PUBLISHED)
    with pytest.raises(Conflict, match="Wait until publishing has finished"):
        post_status.require_editable(S.PUBLISHING, "reschedule")


@pytest.mark.parametrize(
    ("refusal", "verb"),
    [
        (lambda: post_status.require_editable(S.NEEDS_REVIEW, "edit"), "can't be edited"),
        (
            lambda: post_status.require_editable(S.NEEDS_REVIEW, "reschedule"),
            "can't be moved to another time",
        ),
        (lambda: post_status.require_move(S.NEEDS_REVIEW, S.CANCELLED), "can't become cancelled"),
        (lambda: post_status.require_move(S.NEEDS_REVIEW, S.DRAFT), "can't become a draft"),
    ],
)
def test_a_post_that_may_be_live_is_not_edited_moved_or_cancelled_before_the_review(refusal, verb):
    with pytest.raises(Conflict) as refused:
        refusal()
    message = refused.value.message
    assert message.startswith("This post is waiting for you to check whether it went out, so it ")
    assert verb in message
    if "edited" in verb or "another time" in verb or "cancelled" in verb:
        assert "Answer the review first: check the platform" in message


@pytest.mark.parametrize(
    ("destinations", "expected"),
    [
        ([], None),
        ([D.PENDING], S.SCHEDULED),
        ([D.PENDING, D.PENDING], S.SCHEDULED),
        ([D.QUEUED, D.PENDING], S.PUBLISHING),
        ([D.PUBLISHING], S.PUBLISHING),
        ([D.PUBLISHED, D.PENDING], S.PUBLISHING),  # one out, one waiting for its retry
        ([D.FAILED, D.PENDING], S.PUBLISHING),
        ([D.PUBLISHED], S.PUBLISHED),
        ([D.PUBLISHED, D.PUBLISHED], S.PUBLISHED),
        ([D.PUBLISHED, D.CANCELLED], S.PUBLISHED),  # cancelled destinations don't count
        ([D.PUBLISHED, D.FAILED], S.PARTIALLY_PUBLISHED),
        ([D.FAILED], S.FAILED),
        # Needing review: it may be live, so never failed nor partially published while owed an answer.
        ([D.NEEDS_REVIEW], S.NEEDS_REVIEW),
        ([D.FAILED, D.NEEDS_REVIEW], S.NEEDS_REVIEW),
        ([D.PUBLISHED, D.NEEDS_REVIEW], S.NEEDS_REVIEW),
        ([D.PUBLISHED, D.FAILED, D.NEEDS_REVIEW], S.NEEDS_REVIEW),
        ([D.NEEDS_REVIEW, D.CANCELLED], S.NEEDS_REVIEW),
        ([D.NEEDS_REVIEW, D.PENDING], S.PUBLISHING),  # "post it again" on another account
        ([D.NEEDS_REVIEW, D.QUEUED], S.PUBLISHING),
        ([D.NEEDS_REVIEW, D.PUBLISHING], S.PUBLISHING),
        (["needs_review", "failed"], S.NEEDS_REVIEW),
        ([D.CANCELLED, D.CANCELLED], S.CANCELLED),
        ([D.CANCELLED, D.FAILED], S.FAILED),
        (["published", "failed"], S.PARTIALLY_PUBLISHED),  # plain strings work too
    ],
)
def test_derive_post_status(destinations, expected):
    assert post_status.derive_post_status(destinations) == expected


def test_a_derived_status_is_always_reachable_from_publishing_or_scheduled():
    # The engine moves a post from publishing (or scheduled) to what its destinations say.
    for size in (1, 2, 3):
        for combo in itertools.product(D, repeat=size):
            derived = post_status.derive_post_status(combo)
            if derived in (S.SCHEDULED, S.PUBLISHING, S.CANCELLED):
                continue
            assert post_status.can_move(S.PUBLISHING, derived), (combo, derived)


def test_a_post_that_may_be_live_never_reads_failed():
    """Every mix of destinations: one needing review, nothing on its way → needs_review, else not."""
    on_its_way = {D.PENDING, D.QUEUED, D.PUBLISHING}
    for size in (1, 2, 3):
        for combo in itertools.product(D, repeat=size):
            derived = post_status.derive_post_status(combo)
            if D.NEEDS_REVIEW in combo and not on_its_way & set(combo):
                assert derived == S.NEEDS_REVIEW, combo
            else:
                assert derived != S.NEEDS_REVIEW, combo


def test_every_review_answer_leads_somewhere_a_post_in_review_may_go():
    """Published, posted again (pending) or not published (failed): the post's next status is legal."""
    for size in (1, 2, 3):
        for combo in itertools.product(D, repeat=size):
            if post_status.derive_post_status(combo) != S.NEEDS_REVIEW:
                continue
            index = combo.index(D.NEEDS_REVIEW)
            for answer in (D.PUBLISHED, D.PENDING, D.FAILED):
                answered = (*combo[:index], answer, *combo[index + 1 :])
                after = post_status.derive_post_status(answered)
                assert after == S.NEEDS_REVIEW or post_status.can_move(S.NEEDS_REVIEW, after), (
                    combo,
                    answer,
                    after,
                )
