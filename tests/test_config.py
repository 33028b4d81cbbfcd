"""One configuration object: a profile holds its training settings (the TrainConfig that goes on to the
checkpoint) instead of repeating them, and reads and writes them whole."""

import json

import pytest

from genre_utils.config import PROFILES, TRAIN_FIELDS, Profile, TrainConfig, get_profile, train_config


@pytest.mark.parametrize("name", list(PROFILES))
def test_a_profile_round_trips_through_json_whole(name):
    profile = get_profile(name).replace(lr=4e-4, n_valid=33, features={"hop_length": 480})
    back = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert back == profile and back.train.lr == 4e-4 and back.features.hop_length == 480


def test_training_fields_live_once_and_replace_routes_them():
    quick = get_profile("quick")
    assert not TRAIN_FIELDS & {"name", "n_train", "features", "train"}
    assert quick.epochs == quick.train.epochs == 4 and quick.lr == quick.train.lr == 3e-3
    changed = quick.replace(epochs=1, lr=5e-4, n_train=10)
    assert changed.train.epochs == 1 and changed.train.lr == 5e-4 and changed.n_train == 10
    assert changed.train.schedule == quick.train.schedule                 # the rest is kept
    assert quick.replace(train={"dropout": 0.1}).train.dropout == 0.1
    assert quick.replace(seed=3).train.seed == 3                          # one seed, data and training
    with pytest.raises(AttributeError):
        quick.no_such_setting  # noqa: B018


def test_train_config_is_the_profiles_own_object_for_a_model_and_precision():
    paper = get_profile("paper")
    cfg = train_config(paper, "crnn-temporal", "bf16")
    assert cfg == paper.train.replace(model="crnn-temporal", precision="bf16")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay) == (15, 200, 2e-5, 0.005)


def test_the_data_part_leaves_out_training_only():
    quick = get_profile("quick")
    assert "train" not in quick.data_dict() and quick.data_dict()["n_train"] == quick.n_train
    assert quick.replace(lr=1e-4, epochs=9).data_dict() == quick.data_dict()
    assert quick.replace(n_train=10).data_dict() != quick.data_dict()


def test_a_store_record_of_the_flat_form_still_reads():
    flat = {k: v for k, v in get_profile("tiny").to_dict().items() if k != "train"}
    flat.update({k: v for k, v in get_profile("tiny").train.to_dict().items() if k in TRAIN_FIELDS})
    assert Profile.from_dict(flat) == get_profile("tiny")
    assert isinstance(Profile.from_dict(flat).train, TrainConfig)
