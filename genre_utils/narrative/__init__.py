"""Sentences about results, chosen by the results.

The book glues numbers into prose. A fixed sentence with a number in it can come out false ("the
best-recognised genre is blues (100 %)" while six genres tie at 100 %; "jazz's most frequent wrong answer is
blues (0.0 %)" when jazz has no wrong answer at all). Each function here looks at the result first - ties,
zeros, signs, empty cells - and returns the sentence that is true for it. They are unit-tested on fixtures
with ties, zero confusions and negative margins (``tests/test_narrative.py``).

All functions return plain Markdown strings; the notebooks glue them."""

from .common import (
    counted,
    join_names,
)
from .comparisons import (
    artist_gap_sentence,
    margin_reading_sentence,
    margin_sentence,
    newdata_sentence,
    paper_size_probe_sentence,
    probe_gap_reading,
    protocol_sentence,
    published_bag_sentence,
    seed_margin_sentence,
    seeds_note,
    versus_paper_sentence,
    web_tests_sentence,
)
from .confidence import (
    auroc_sentence,
    ece_sentence,
    newdata_flag_sentence,
    open_set_note,
    rejection_sentence,
    temperature_sentence,
)
from .pipeline import (
    artist_share_sentence,
    best_epoch_sentence,
    failed_files_sentence,
    near_duplicates_sentence,
    paper_cost_sentence,
    paper_recipe_provenance,
    paper_recipe_sentence,
    paper_recipe_test_sentence,
    split_sentence,
    windows_per_genre_phrase,
)
from .results import (
    accuracy_sentence,
    collapse_sentence,
    confusion_sentence,
    explorer_opening_sentence,
    extremes_sentence,
    fdr_sentence,
    focus_genre_sentence,
    genre_seed_sentence,
    largest_confusion,
    misclassified_sentence,
    neighbours_sentence,
    pair_sentence,
    precision_sentence,
    sample_lines,
    sample_sentence,
    vote_mean_disagreements,
    weakest_sentence,
)

__all__ = ["join_names", "counted", "extremes_sentence", "confusion_sentence", "pair_sentence", "margin_sentence",
           "largest_confusion", "explorer_opening_sentence", "vote_mean_disagreements", "collapse_sentence",
           "accuracy_sentence", "versus_paper_sentence", "precision_sentence", "weakest_sentence",
           "focus_genre_sentence", "neighbours_sentence", "sample_lines", "sample_sentence",
           "misclassified_sentence", "fdr_sentence", "web_tests_sentence", "newdata_sentence", "protocol_sentence",
           "auroc_sentence", "ece_sentence", "temperature_sentence", "rejection_sentence", "newdata_flag_sentence",
           "open_set_note", "margin_reading_sentence", "seed_margin_sentence", "seeds_note",
           "windows_per_genre_phrase", "split_sentence",
           "near_duplicates_sentence", "artist_share_sentence",
           "artist_gap_sentence", "paper_size_probe_sentence", "failed_files_sentence", "best_epoch_sentence",
           "paper_recipe_sentence", "paper_recipe_test_sentence", "paper_recipe_provenance", "paper_cost_sentence",
           "probe_gap_reading", "published_bag_sentence", "genre_seed_sentence"]
