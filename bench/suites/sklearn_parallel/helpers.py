"""Generated data for the sklearn_parallel suite (made per test: cheap and independent)."""
import numpy as np
from sklearn.datasets import make_classification, make_regression


def classification(seed, n_samples=200, n_features=8, n_classes=2):
    return make_classification(n_samples=n_samples, n_features=n_features, n_informative=5,
                               n_redundant=1, n_classes=n_classes, class_sep=1.5, random_state=seed)


def regression(seed, n_samples=200, n_features=8):
    X, y = make_regression(n_samples=n_samples, n_features=n_features, n_informative=5,
                           noise=5.0, random_state=seed)
    return X, y


def split(X, y, frac=0.75):
    k = int(len(X) * frac)
    return X[:k], X[k:], y[:k], y[k:]
