"""An external suite: does the answer mention the word the item names?"""

from crosslab import Item, Transcript, Verdict, grader, suite


@grader("example_mentions", version="2")
def mentions(item: Item, transcript: Transcript) -> Verdict:
    word = item.grading["word"]
    at = transcript.final_answer.lower().find(word.lower())
    if at < 0:
        return Verdict.of("missing", 0.0, {"word": word, "span": None})
    return Verdict.of("mentioned", 1.0, {"word": word, "span": [at, at + len(word)]})


SUITE = suite("example", package=__name__, graders=[mentions], category="example",
              description="External example suite: two items, one grader.")
