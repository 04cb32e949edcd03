"""Decision trees and small ensembles."""
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from helpers import classification, regression, split

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("depth", [2, 4, None])
def test_tree_classifier(seed, depth):
    Xtr, Xte, ytr, yte = split(*classification(seed))
    model = DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.6
    if depth is not None:
        assert model.get_depth() <= depth


@pytest.mark.parametrize("seed", SEEDS)
def test_tree_regressor(seed):
    Xtr, Xte, ytr, yte = split(*regression(seed))
    model = DecisionTreeRegressor(max_depth=6, random_state=seed).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_random_forest(seed):
    Xtr, Xte, ytr, yte = split(*classification(seed))
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=seed, n_jobs=1).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
def test_gradient_boosting(seed):
    Xtr, Xte, ytr, yte = split(*classification(seed))
    model = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=seed).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.6
