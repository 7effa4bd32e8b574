"""The intent is the normalized geometric mean of the real tokens' votes; padding has no say."""

import numpy as np

from training.network import TokenVoting


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_sentence_log_probabilities_are_the_mean_of_the_real_tokens():
    rng = np.random.default_rng(0)
    votes = rng.normal(size=(2, 4, 5)).astype("float32")
    mask = np.array([[True, True, True, True], [True, True, False, False]])
    sentence = TokenVoting()(votes, mask=mask).numpy()
    np.testing.assert_allclose(sentence[0], _log_softmax(votes[0]).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(sentence[1], _log_softmax(votes[1, :2]).mean(axis=0), rtol=1e-5)


def test_padding_votes_do_not_change_the_intent():
    rng = np.random.default_rng(1)
    votes = rng.normal(size=(1, 3, 4)).astype("float32")
    mask = np.array([[True, True, False]])
    noisy = votes.copy()
    noisy[0, 2] = 100.0 * rng.normal(size=4)
    np.testing.assert_allclose(TokenVoting()(votes, mask=mask), TokenVoting()(noisy, mask=mask), rtol=1e-5)
