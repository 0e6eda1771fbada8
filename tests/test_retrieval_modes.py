"""Dense, keyword and hybrid retrieval on a real store."""

import pytest

from qa.errors import QAError

STORIES = {
    "sesame.txt": "Allergen list grows\n\nRegulators added sesame to the list of major food "
                  "allergens, so labels must now declare it.",
    "bridge.txt": "Bridge reopens\n\nThe Old Mill bridge reopened after a repair that cost "
                  "40 million dollars.",
    "zq.txt": "Code name\n\nThe project was known internally as Zyqorath until its launch.",
}


@pytest.fixture
def stories_kb(kb, tmp_path):
    for name, text in STORIES.items():
        (tmp_path / name).write_text(text)
    assert kb.add(tmp_path).count("added") == 3
    return kb


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid", "rerank"])
def test_each_mode_finds_the_right_story(stories_kb, mode):
    top = stories_kb.retrieve("Which seed became a major food allergen?", k=3, mode=mode)[0]
    assert top.title == "Allergen list grows"
    assert -1.0 <= top.score <= 1.0  # always the dense cosine similarity


def test_keyword_search_catches_a_rare_name(stories_kb):
    assert stories_kb.retrieve("Zyqorath", k=1, mode="keyword")[0].title == "Code name"
    assert stories_kb.retrieve("Zyqorath", k=1, mode="hybrid")[0].title == "Code name"


def test_keyword_index_follows_adds_and_removals(stories_kb, tmp_path):
    p = tmp_path / "new.txt"
    p.write_text("Comet\n\nAstronomers named the comet Vexallor after its discoverer.")
    stories_kb.add(p)
    assert stories_kb.retrieve("Vexallor", k=1, mode="keyword")[0].title == "Comet"
    stories_kb.remove(str(p))
    assert all(x.title != "Comet" for x in stories_kb.retrieve("Vexallor", k=3, mode="keyword"))


def test_unknown_mode_is_refused(stories_kb):
    with pytest.raises(QAError, match="retrieval mode"):
        stories_kb.retrieve("bridge", mode="magic")


def test_as_of_leaves_out_later_articles_and_prefers_recent_ones(kb):
    kb.add_text("The city council approved the new stadium budget of 10 million dollars.",
                title="Stadium budget approved", date="2022-03-01", source="https://e.x/old")
    kb.add_text("The city council approved an extra stadium budget of 12 million dollars.",
                title="Stadium budget raised", date="2023-01-10", source="https://e.x/mid")
    kb.add_text("The city council cancelled the stadium budget entirely.",
                title="Stadium budget cancelled", date="2023-06-01", source="https://e.x/new")
    q = "What did the city council decide about the stadium budget?"
    titles = [p.title for p in kb.retrieve(q, k=3, as_of="2023-01-12")]
    assert "Stadium budget cancelled" not in titles  # published after the question
    assert titles[0] == "Stadium budget raised"  # the month before beats last year
    assert len(kb.retrieve(q, k=3)) == 3  # without as_of every article counts
    with pytest.raises(QAError, match="as_of"):
        kb.retrieve(q, as_of="not a date")
