import pytest

from labelguard.errors import BadInput, UnknownName
from labelguard.tasks import train, transforms
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews

SPEC = ColumnSpec()


def _split(seed=0):
    data = make_reviews(5000, seed=seed)
    return data.iloc[:4000], data.iloc[4000:]


@pytest.mark.parametrize("model", sorted(train.REGISTRY))
def test_clean_models_are_accurate(model):
    tr, ho = _split()
    m = train.evaluate(train.train_model(tr, SPEC, model=model), ho, SPEC)
    assert m["accuracy"] >= 0.95
    assert abs(m["predicted_positive_share"] - m["true_positive_share"]) < 0.03
    assert sum(map(sum, m["confusion_matrix"])) == len(ho)


def test_targeted_flips_understate_positive_share():
    tr, ho = _split()
    poisoned = transforms.run_transform(tr, SPEC, "targeted", rate=0.2, seed=0).frame
    m = train.evaluate(train.train_model(poisoned, SPEC), ho, SPEC)
    assert m["true_positive_share"] - m["predicted_positive_share"] >= 0.10
    assert m["precision"] > 0.95 and m["recall"] < 0.8


def test_random_flips_barely_move_a_linear_model_on_separated_data():
    tr, ho = _split()
    poisoned = transforms.run_transform(tr, SPEC, "random", rate=0.2, seed=0).frame
    m = train.evaluate(train.train_model(poisoned, SPEC), ho, SPEC)
    assert m["accuracy"] >= 0.95


def test_bad_model_inputs():
    tr, _ = _split()
    with pytest.raises(UnknownName):
        train.train_model(tr, SPEC, model="svm-deluxe")
    with pytest.raises(BadInput, match="no rows"):
        train.train_model(tr.iloc[:0], SPEC)
    # one class left (every row of the other relabelled): the only model those rows give, a constant one (r15 F12)
    assert set(train.train_model(tr[tr.label == 1], SPEC).predict(train.feature_matrix(tr, SPEC))) == {1}
