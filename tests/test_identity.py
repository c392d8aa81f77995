"""Study identity as study attributes (names for display only), and Optuna's public API for recovery."""

import socket
import optuna

from bench.reports.leaderboard import load_storage
from bench.tuning.identity import StudyIdentity, identity_of
from bench.tuning.result import ResultRow
from bench.tuning.liveness import OWNER_ATTR, recover_dead_trials
from bench.tuning.runner import open_study, storage_for


def test_a_study_carries_its_identity_and_keeps_the_name_earlier_versions_gave_it(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    identity = StudyIdentity("smoke", "so-lang4", "tfidf", "logreg", "curve-n100")
    study = open_study(storage, identity)
    assert study.study_name == "smoke:so-lang4:tfidf:logreg:curve-n100"  # the sampler's seed derives from it
    assert identity_of("anything", study.user_attrs) == identity
    assert StudyIdentity("smoke", "t", variant="controls").name == "smoke:t:controls"


def test_studies_written_before_identities_were_stored_are_read_from_their_names(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    old = optuna.create_study(study_name="smoke:t:learned:gru", storage=storage_for(storage))
    old.set_user_attr("row", ResultRow("smoke", "t", backend="learned", classifier="gru", status="failed").to_json())
    optuna.create_study(study_name="smoke:t:controls", storage=storage_for(storage)).set_user_attr("controls", {"x": 1})
    optuna.create_study(study_name="smoke:t:learned:gru:claim", storage=storage_for(storage))  # a worker's claim
    optuna.create_study(study_name="smoke:t:tfidf:logreg:full-text", storage=storage_for(storage))
    open_study(storage, StudyIdentity("smoke", "t", "tfidf", "logreg"))  # a new study, without a row yet
    optuna.create_study(study_name="standard:t:tfidf:logreg", storage=storage_for(storage))
    rows, controls = load_storage(storage, "smoke")
    assert sorted((r.backend, r.status) for r in rows) == [("learned", "failed"), ("tfidf", "incomplete")]
    assert controls == {"t": {"x": 1}}
    assert identity_of("smoke:t:tfidf:logreg:full-text", {}).variant == "full-text"
    assert identity_of("smoke:t:learned:gru:claim", {}) is None


def test_trials_a_killed_run_left_running_are_failed_through_the_public_api(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    study = open_study(storage, StudyIdentity("smoke", "t", "tfidf", "logreg"))
    study.tell(study.ask(), 0.5)
    trial = study.ask()  # its process "dies" mid-trial
    trial.set_user_attr(OWNER_ATTR, f"{socket.gethostname()}:999999999")  # a pid no process of this machine has
    assert recover_dead_trials(study) == 1
    states = [t.state.name for t in study.get_trials()]
    assert states == ["COMPLETE", "FAIL"] and not study.trials[1].user_attrs.get("error")
