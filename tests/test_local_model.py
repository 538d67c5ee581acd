"""The local model learns from a small labelled history, is calibrated-shaped, and round-trips to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.local_model import FieldGuess, LocalModel, ModelNotTrainedError
from knowledge.embeddings import local_embedder

# (text, category, channel): written for this test, four categories, a second field that is not
# derivable from the first so the two fields must be learned separately.
_ROWS: list[tuple[str, str, str]] = [
    ("I forgot my password and cannot log in", "login", "email"),
    ("Password reset link never arrives in my inbox", "login", "chat"),
    ("Two-factor code is rejected every time I sign in", "login", "email"),
    ("Locked out of my account after too many attempts", "login", "chat"),
    ("The login page keeps saying invalid credentials", "login", "email"),
    ("Cannot sign in since I changed my password yesterday", "login", "chat"),
    ("My session expires immediately after I log in", "login", "email"),
    ("Single sign-on redirects me back to the login screen", "login", "chat"),
    ("Reset password email went to spam and the link expired", "login", "email"),
    ("Authenticator app lost, how do I get back into my account", "login", "chat"),
    ("I was charged twice for my subscription this month", "billing", "email"),
    ("Please send me an invoice for last quarter", "billing", "chat"),
    ("My credit card payment was declined at renewal", "billing", "email"),
    ("How do I get a refund for the annual plan", "billing", "chat"),
    ("The price on my bill is higher than the quote", "billing", "email"),
    ("Update the billing address on our invoices", "billing", "chat"),
    ("Cancel my subscription and stop charging my card", "billing", "email"),
    ("VAT number is missing from the receipt", "billing", "chat"),
    ("Why was I billed for extra seats we never used", "billing", "email"),
    ("Refund the duplicate payment from yesterday please", "billing", "chat"),
    ("The app crashes when I open the reports tab", "bug", "email"),
    ("Export to CSV produces an empty file", "bug", "chat"),
    ("Dashboard charts do not load, just a spinner forever", "bug", "email"),
    ("Error 500 when saving a new project", "bug", "chat"),
    ("Search returns no results even for exact names", "bug", "email"),
    ("Notifications are sent twice for every comment", "bug", "chat"),
    ("The mobile app freezes on the upload screen", "bug", "email"),
    ("Dates show in the wrong timezone in the calendar", "bug", "chat"),
    ("Attachments over 2 MB fail to upload with an error", "bug", "email"),
    ("The sync job stopped working after the update", "bug", "chat"),
    ("Could you add a dark mode to the web app", "feature", "email"),
    ("It would be great to schedule reports weekly", "feature", "chat"),
    ("Please support exporting to Excel format", "feature", "email"),
    ("We would like an API endpoint for bulk user import", "feature", "chat"),
    ("Feature request: keyboard shortcuts for the editor", "feature", "email"),
    ("Can you integrate with Slack for notifications", "feature", "chat"),
    ("Suggestion: let admins customise the onboarding email", "feature", "email"),
    ("Add the option to archive old projects", "feature", "chat"),
    ("Would love a German translation of the interface", "feature", "email"),
    ("Please allow custom fields on the ticket form", "feature", "chat"),
]
_HELD_OUT: list[tuple[str, str]] = [
    ("I can't log into my account, the password is not accepted", "login"),
    ("Sign-in fails with my two factor code", "login"),
    ("We were charged twice, please refund one payment", "billing"),
    ("Send a copy of the invoice for March", "billing"),
    ("The page crashes with an error when I click save", "bug"),
    ("Upload is broken, the app hangs", "bug"),
    ("Please add an integration with Microsoft Teams", "feature"),
    ("It would be nice to have a dark theme option", "feature"),
]


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    embedder = local_embedder(2)
    texts = [t for t, _, _ in _ROWS]
    return {
        "texts": texts,
        "embeddings": embedder.embed(texts),
        "category": [c for _, c, _ in _ROWS],
        "channel": [ch for _, _, ch in _ROWS],
        "held_texts": [t for t, _ in _HELD_OUT],
        "held_embeddings": embedder.embed([t for t, _ in _HELD_OUT]),
        "held_labels": [c for _, c in _HELD_OUT],
    }


@pytest.fixture(scope="module")
def model(data: dict) -> LocalModel:
    # Every fourth channel label missing, plus a field with one class: real history looks like this.
    channel = [None if i % 4 == 0 else c for i, c in enumerate(data["channel"])]
    messages: list[str] = []
    trained = LocalModel.train(
        data["texts"],
        data["embeddings"],
        {"category": data["category"], "channel": channel, "tenant": ["acme"] * len(data["texts"])},
        seed=0,
        progress=messages.append,
    )
    assert messages, "progress should report the training steps"
    return trained


def test_learns_categories_well_above_chance(model: LocalModel, data: dict) -> None:
    guesses = model.predict(data["held_texts"], data["held_embeddings"])
    accuracy = np.mean([g["category"].value == y for g, y in zip(guesses, data["held_labels"], strict=True)])
    assert accuracy >= 0.75  # chance is 0.25


def test_metadata_and_fields(model: LocalModel, data: dict) -> None:
    assert model.version.startswith("lm-")
    assert len(model.version.rsplit("-", 1)[1]) == 8
    assert model.n_train == len(data["texts"])
    assert model.fields["category"] == ["billing", "bug", "feature", "login"]
    assert model.fields["channel"] == ["chat", "email"]
    assert model.fields["tenant"] == ["acme"]


def test_probabilities_are_valid_and_sorted(model: LocalModel, data: dict) -> None:
    for row in model.predict(data["held_texts"], data["held_embeddings"]):
        assert set(row) == {"category", "channel", "tenant"}
        for name, guess in row.items():
            assert isinstance(guess, FieldGuess)
            assert 0.0 <= guess.confidence <= 1.0
            probs = [p for _, p in guess.alternatives]
            assert all(0.0 <= p <= 1.0 for p in probs)
            assert probs == sorted(probs, reverse=True)
            assert guess.alternatives[0] == (guess.value, guess.confidence)
            assert len(guess.alternatives) == min(3, len(model.fields[name]))
    full = model.predict_proba(data["held_texts"], data["held_embeddings"])
    np.testing.assert_allclose(full["category"].sum(axis=1), 1.0, atol=1e-9)


def test_single_class_field_is_constant_and_certain(model: LocalModel, data: dict) -> None:
    guess = model.predict(data["held_texts"][:1], data["held_embeddings"][:1])[0]["tenant"]
    assert guess == FieldGuess("acme", 1.0, [("acme", 1.0)])


def test_missing_labels_are_left_out_of_that_field(model: LocalModel) -> None:
    counts = model.meta["class_counts"]
    assert sum(counts["category"].values()) == len(_ROWS)
    assert sum(counts["channel"].values()) == len(_ROWS) - len(range(0, len(_ROWS), 4))


def test_deterministic_for_a_seed(model: LocalModel, data: dict) -> None:
    again = LocalModel.train(data["texts"], data["embeddings"], {"category": data["category"]}, seed=0)
    a = model.predict_proba(data["held_texts"], data["held_embeddings"])["category"]
    b = again.predict_proba(data["held_texts"], data["held_embeddings"])["category"]
    # Same decisions; probabilities equal up to float noise from threaded BLAS and the weight optimiser.
    np.testing.assert_array_equal(a.argmax(axis=1), b.argmax(axis=1))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-9)


def test_save_load_round_trip(model: LocalModel, data: dict, tmp_path: Path) -> None:
    path = model.save(tmp_path)
    assert path.is_file() and (tmp_path / "local_model.json").is_file()
    loaded = LocalModel.load(tmp_path)
    assert (loaded.version, loaded.trained_at, loaded.n_train, loaded.fields) == (
        model.version,
        model.trained_at,
        model.n_train,
        model.fields,
    )
    assert loaded.predict(data["held_texts"], data["held_embeddings"]) == model.predict(
        data["held_texts"], data["held_embeddings"]
    )


def test_load_without_a_model_says_to_train(tmp_path: Path) -> None:
    with pytest.raises(ModelNotTrainedError, match="caseworker train"):
        LocalModel.load(tmp_path)


def test_load_of_a_corrupt_file_says_to_retrain(tmp_path: Path) -> None:
    (tmp_path / "local_model.joblib").write_bytes(b"not a model")
    with pytest.raises(ModelNotTrainedError, match="caseworker train"):
        LocalModel.load(tmp_path)


def test_neighbours_returns_nearest_training_rows(model: LocalModel, data: dict) -> None:
    hits = model.neighbours(data["embeddings"][3], k=3)
    assert hits[0][0] == 3 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_tiny_history_trains_without_cross_validation(data: dict) -> None:
    # Five rows, one of them unlabelled: too few to cross-validate, still a usable model.
    labels = ["login", "login", None, "billing", "billing"]
    small = LocalModel.train(data["texts"][8:13], data["embeddings"][8:13], {"category": labels})
    guess = small.predict(data["held_texts"][:1], data["held_embeddings"][:1])[0]["category"]
    assert guess.value in {"login", "billing"}
    assert 0.5 <= guess.confidence <= 1.0
