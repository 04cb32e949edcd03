"""Linear models: classifiers and regressors fitted on generated data."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge, Lasso, SGDClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

from helpers import classification, regression, split

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_logistic_accuracy(seed, C):
    Xtr, Xte, ytr, yte = split(*classification(seed))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_multiclass_proba(seed):
    X, y = classification(seed, n_classes=3)
    proba = LogisticRegression(max_iter=500).fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("alpha", [0.01, 1.0, 100.0])
def test_ridge_r2(seed, alpha):
    Xtr, Xte, ytr, yte = split(*regression(seed))
    model = Ridge(alpha=alpha).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
def test_lasso_sparsity(seed):
    X, y = regression(seed, n_features=20)
    model = Lasso(alpha=1.0, max_iter=5000).fit(X, y)
    assert np.count_nonzero(model.coef_) < 20


@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_classifier(seed):
    X, y = classification(seed)
    X = StandardScaler().fit_transform(X)
    model = SGDClassifier(max_iter=200, tol=1e-3, random_state=seed).fit(X, y)
    assert model.score(X, y) > 0.55
