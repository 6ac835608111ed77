"""Scenario files: built-ins load, options override, and errors name the file, the key and the value."""

import math

import pytest

from trialsim.design import HistoricalControlDesign, SingleArmDesign, TwoArmDesign
from trialsim.exceptions import InputError
from trialsim.model import ArmModel, ParametricArm
from trialsim.scenarios import builtin_scenarios, load_scenario, parametric_model


def test_builtin_scenarios_are_the_four_documented():
    assert set(builtin_scenarios()) == {"default", "parametric", "single_arm_rate", "historical_arm"}


def test_default_is_the_randomised_ctdmas_trial():
    s = load_scenario("default")
    assert isinstance(s.design, TwoArmDesign) and s.design.test == "logrank" and s.design.sided == 2
    assert s.trial.n == 40 and s.trial.allocation == (1, 1) and s.trial.analysis == "complete"
    assert all(isinstance(a, ArmModel) for a in s.model.arms) and s.model.arm_names == ("ruxolitinib", "control")
    assert s.horizon == 8.0


def test_single_arm_and_historical_scenarios():
    rate = load_scenario("single_arm_rate")
    assert isinstance(rate.design, SingleArmDesign) and rate.design.null_survival == 0.62
    assert rate.trial.allocation == (1,)
    hist = load_scenario("historical_arm")
    assert isinstance(hist.design, HistoricalControlDesign) and hist.design.n_historical == 21


def test_parametric_scenario_survival_at_horizon():
    s = load_scenario("parametric")
    treatment, control = s.model.arms
    assert isinstance(control, ParametricArm)
    assert control.survival([8.0])[0] == pytest.approx(0.62, rel=1e-12)
    assert treatment.survival([8.0])[0] == pytest.approx(0.95, rel=1e-12)


def test_parametric_model_from_median_and_hazard_ratio():
    m = parametric_model(horizon=8.0, control_median=10.0, hazard_ratio=0.5)
    assert m.arms[1].hazards[0] == pytest.approx(math.log(2) / 10, rel=1e-12)  # exact: log 2 / median
    assert m.arms[0].hazards[0] == pytest.approx(0.5 * math.log(2) / 10, rel=1e-12)
    with pytest.raises(InputError, match=r"needs exactly one of control_survival, control_median \(got 'neither'\)"):
        parametric_model(horizon=8.0, hazard_ratio=0.5)


def _write(tmp_path, text, name="trial.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_file_by_path(tmp_path):
    path = _write(tmp_path, '[model]\nkind = "parametric"\ncontrol_median = 12.0\nhazard_ratio = 0.6\n'
                            '[trial]\nn = 60\naccrual_rate = 3.0\ndropout_hazard = 0.01\n'
                            '[design]\nsided = 1\nalpha = 0.025\n')
    s = load_scenario(str(path))
    assert s.trial.n == 60 and s.trial.accrual.kind == "poisson" and s.trial.accrual.rate == 3.0
    assert s.trial.dropout_hazard == (0.01, 0.01) and s.design.sided == 1


def test_ctdmas_arm_overrides(tmp_path):
    path = _write(tmp_path, '[model]\n[model.ruxolitinib.response]\ndeath_hazard_nr = 0.05\n[trial]\nn = 40\n')
    s = load_scenario(str(path))
    assert s.model.arms[0].response.death_hazard_nr == 0.05
    assert s.model.arms[1] == load_scenario("default").model.arms[1]


@pytest.mark.parametrize("text, pieces", [
    # a typo'd key: the file, the section and key, the value
    ("[trial]\nn = 40\nfolow_up = 8.0\n", ["trial.toml: [trial] folow_up is not a key of [trial]", "follow_up",
                                            "(got a float)"]),
    ("[trial]\nn = 41\n", ["trial.toml: [trial] n must be a multiple of 2 for allocation 1:1 (got 41)"]),
    ("[trial]\nn = 40\n[design]\nalpha = 1.5\n", ["trial.toml: [design] alpha must be a probability in (0, 1) (got 1.5)"]),
    ('[model]\nkind = "parametric"\ncontrol_survival = 0\ntreatment_survival = 0.9\n[trial]\nn = 40\n',
     ["trial.toml: [model] control_survival must be a finite number > 0 (got 0)"]),
    ('[model]\nkind = "weibull"\n[trial]\nn = 40\n', ["trial.toml: [model] kind must be 'ctdmas' or 'parametric' (got 'weibull')"]),
    ('[trial]\nn = 40\nstratified = "false"\n', ["trial.toml: [trial] stratified must be true or false (got 'false')"]),
    ('[trial]\nn = 40\n[design]\nsided = 2.0\n', ["trial.toml: [design] sided must be one of 1, 2 (got 2.0)"]),
    ('SECRET_API_KEY = "sk-0123456789abcdefghijklmnop"\n', ["trial.toml: SECRET_API_KEY is not a key of a scenario",
                                                            "(got a str)"]),
    ('[design]\nkind = "single_arm"\nendpoint = "response"\n[trial]\nn = 20\nallocation = [1]\n',
     ["trial.toml", "endpoint"]),
    ("[trial]\nn = 40\n[model.ruxolitinib.response]\ndeath_hazard = 0.1\n", ["trial.toml", "death_hazard"]),
    ("n = 40\n", ["trial.toml: n is not a key of a scenario"]),
    ("[trial\nn = 40\n", ["trial.toml must be valid TOML (got "]),
])
def test_errors_name_file_key_value(tmp_path, text, pieces):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_scenario(str(path))
    message = str(info.value)
    assert "\n" not in message and "0123456789" not in message  # one line; no value echoed at length
    for piece in pieces:
        assert piece in message, message


def test_unknown_scenario_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"^--scenario must be a built-in scenario \(default, .*\) or a .toml file \(got 'nope'\)$"):
        load_scenario("nope")
    with pytest.raises(InputError, match=r"^--scenario must be an existing file \(got '.*missing.toml'\)$"):
        load_scenario(str(tmp_path / "missing.toml"))
    with pytest.raises(InputError, match=r"^--scenario must be a regular file .* \(got '.*'\)$"):
        load_scenario(str(tmp_path))  # a directory


def test_overrides_name_the_option():
    with pytest.raises(InputError, match=r"^--n must be a multiple of 2 for allocation 1:1 \(got 41\)$"):
        load_scenario("default", overrides={("trial", "n"): (41, "--n")})
    s = load_scenario("default", overrides={("trial", "n"): (60, "--n"), ("design", "sided"): (1, "--sided")})
    assert s.trial.n == 60 and s.design.sided == 1


def test_option_that_does_not_apply_names_the_option(capsys):
    from trialsim.cli import main

    assert main(["power", "--design", "single-arm", "--endpoint", "response", "--n", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--endpoint" in err[0] and "'response'" in err[0]
