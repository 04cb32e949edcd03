"""A few scikit-learn tests fitting a tiny LogisticRegression on generated data."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def test_fit_accuracy(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    assert model.score(X, y) > 0.9


def test_predict_proba_sums_to_one(data):
    X, y = data
    proba = LogisticRegression().fit(X, y).predict_proba(X[:5])
    assert proba.shape == (5, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_coef_shape(data):
    X, y = data
    model = LogisticRegression(C=0.5).fit(X, y)
    assert model.coef_.shape == (1, 3)
    assert model.coef_[0, 0] > 0


@pytest.mark.parametrize("penalty", ["l2", None])
def test_penalties(data, penalty):
    X, y = data
    model = LogisticRegression(penalty=penalty, max_iter=200).fit(X, y)
    assert set(model.predict(X)) <= {0, 1}
