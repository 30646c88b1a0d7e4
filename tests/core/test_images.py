"""core.images: the baseline every image milestone's error is read against."""

import torch

from milestones.core.datasets import Split
from milestones.core.images import majority_class_error


def split(labels: list[int]) -> Split:
    return Split(torch.zeros(len(labels), 1, 2, 2, dtype=torch.uint8), torch.tensor(labels))


def test_majority_class_error_guesses_the_training_sets_most_frequent_class():
    train = split([2, 2, 2, 0, 1])  # class 2 is the guess
    assert majority_class_error(train, split([2, 2, 0, 1])) == 0.5
    assert majority_class_error(train, split([2, 2, 2, 2])) == 0.0
    # the test set's own majority (class 0) does not leak into the guess
    assert majority_class_error(train, split([0, 0, 0, 2])) == 0.75
