import pytest

from crosslab.grading.includes import grade_includes

LABELLED = [
    ("The capital of France is Paris.", "Paris", "pass"),
    ("paris", "Paris", "pass"),
    ("It is New   York.", "New York", "pass"),
    ("It is New\nYork.", "new york", "pass"),
    ("The answer is 4.", "4", "pass"),
    ("The capital of France is Lyon.", "Paris", "fail"),
    ("", "Paris", "fail"),
    ("Newark", "New York", "fail"),
    ("H2O", "H2O", "pass"),
    ("HO2", "H2O", "fail"),
    ("new yorker, new york", "New York", "pass"),
    ("NewYork", "New York", "fail"),
    ("Il est à Paris.", "paris", "pass"),  # non-ASCII text takes the regex path
    ("São  Paulo it is", "são paulo", "pass"),
    ("Sao Paulo", "São Paulo", "fail"),
]


@pytest.mark.parametrize("response, target, label", LABELLED)
def test_includes_on_labelled_examples(response: str, target: str, label: str):
    verdict = grade_includes(response, target)
    assert verdict.label == label
    assert verdict.score == (1.0 if label == "pass" else 0.0)


def test_fast_path_agrees_with_the_regex_on_many_cases():
    from crosslab.grading.includes import _find_words, _pattern

    texts = ["a b  c", "ab c", "x a\tb c y", "a a b c", "b c a", "a\nb\n\nc!", "a b", ""]
    targets = ["a b c", "a", "b  c", "c", "a b"]
    for text in texts:
        for target in targets:
            match = _pattern(target).search(text)
            assert _find_words(text.lower(), target.lower().split()) == (match.span() if match else None)


def test_evidence_points_at_the_matched_span():
    v = grade_includes("Well, it is Paris of course", "paris")
    start, end = v.evidence["span"]
    assert "Well, it is Paris of course"[start:end] == "Paris"


def test_empty_target_is_an_error_not_a_pass():
    with pytest.raises(ValueError):
        grade_includes("anything", "  ")
