"""A provider's answer is checked: its text is kept with what falls short listed; the prompt carries the choices."""

import pytest

from postforge.ai.base import (
    BrandContext,
    GenerationRequest,
    MalformedOutput,
    normalize_hashtag,
    validate_output,
)
from postforge.ai.prompts import POST_TOOL, TOOL_NAME, system_prompt, text_budget, user_prompt


def request(**fields) -> GenerationRequest:
    values = {
        "topic": "spring sale",
        "tone": "Urgent",
        "language": "fr",
        "platform": "x",
        "platform_label": "X",
        "max_chars": 280,
    }
    return GenerationRequest(**{**values, **fields})


GOOD = {
    "content": "Last day of the spring sale!",
    "hashtags": ["sale", "#Spring", "#spring", " #Deals "],
    "best_time": "Friday  11:30",
    "best_time_reason": "People plan their weekend shopping then.",
}


def test_a_good_answer_is_normalized():
    post = validate_output(GOOD, request(), sample=False, provider="anthropic", model="m")
    assert post.hashtags == ("#sale", "#Spring", "#Deals")  # "#" added, duplicates dropped
    assert post.best_time == "Friday 11:30"
    assert (post.sample, post.provider, post.model) == (False, "anthropic", "m")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"hashtags": None}, "the hashtags are missing"),
        ({"hashtags": ["#one", "#two"]}, "it gave 2 usable hashtags, not 3 to 10"),
        ({"hashtags": [f"#t{n}" for n in range(11)]}, "it gave 11 usable hashtags"),
        ({"hashtags": ["#a b", "##", "#ok", "#fine"]}, "it gave 2 usable hashtags"),
        ({"best_time": "soon"}, "the best time to post is missing"),
        ({"best_time": "Tuesday 9:30"}, "the best time to post is missing"),
        ({"best_time_reason": "  "}, "the reason for the best time is missing"),
        ({"content": "x" * 281}, "the post is 281 characters, over X's limit of 280"),
    ],
)
def test_an_answer_with_text_is_kept_and_says_what_falls_short(change, complaint):
    """Text delivered = credit kept: the post survives its problems, which the person sees."""
    post = validate_output({**GOOD, **change}, request(), sample=False, provider="anthropic")
    assert post.content == ({**GOOD, **change}["content"]).strip()
    assert any(problem.startswith(complaint) for problem in post.problems), post.problems


def test_the_good_fields_survive_a_bad_one():
    post = validate_output({**GOOD, "best_time": "soon"}, request(), sample=False, provider="anthropic")
    assert post.hashtags == ("#sale", "#Spring", "#Deals")
    assert (post.best_time, post.best_time_reason) == ("", "")  # a reason for no time says nothing
    assert validate_output(GOOD, request(), sample=False, provider="anthropic").problems == ()


@pytest.mark.parametrize("content", ["", "   ", None, 7])
def test_an_answer_without_text_is_malformed(content):
    with pytest.raises(MalformedOutput, match="without any post text"):
        validate_output({**GOOD, "content": content}, request(), sample=False, provider="anthropic")


def test_a_missing_answer_is_refused():
    with pytest.raises(MalformedOutput):
        validate_output(None, request(), sample=False, provider="anthropic")


def test_length_is_counted_the_platform_way():
    weighted = request(count=lambda text: 2 * len(text))  # e.g. X counts some characters twice
    post = validate_output({**GOOD, "content": "x" * 141}, weighted, sample=False, provider="anthropic")
    assert post.problems == ("the post is 282 characters, over X's limit of 280",)


def test_normalize_hashtag():
    assert normalize_hashtag("Launch") == "#Launch"
    assert normalize_hashtag("  #Café ") == "#Café"
    assert normalize_hashtag("two words") == ""
    assert normalize_hashtag(7) == ""


def test_the_system_prompt_carries_tone_language_platform_limit_and_brand():
    brand = BrandContext(
        name="Bean There",
        tone_of_voice="Warm, a little nerdy about coffee.",
        target_audience="Commuters in Leipzig",
        sample_posts=("Fresh beans, fresh start.",),
    )
    prompt = system_prompt(request(brand=brand))
    assert "Urgent" in prompt and "French" in prompt and "X" in prompt
    assert f"at most {text_budget(request())} characters" in prompt and "280" in prompt
    for part in ("Bean There", "Warm, a little nerdy", "Commuters in Leipzig", "Fresh beans, fresh start."):
        assert part in prompt
    assert "Bean There" not in system_prompt(request())
    assert "Topic: spring sale" in user_prompt(request())


def test_the_tool_asks_for_every_field_and_is_the_forced_one():
    schema = POST_TOOL["input_schema"]
    assert POST_TOOL["name"] == TOOL_NAME
    assert set(schema["required"]) == {"content", "hashtags", "best_time", "best_time_reason"}
    assert next(iter(schema["properties"])) == "content"  # written first, so the preview streams early
