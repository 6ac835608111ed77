"""The group-sequential command line: ``boundaries``, ``design``, and the looks, follow-up and null options of
``power`` and ``sample-size`` (docs/cli.md). Numbers are checked against the library calls they stand for; errors
against the one format of tests/test_cli_errors.py."""

from __future__ import annotations

import json
import math
import re

import pytest

from trialsim.cli import main
from trialsim.design import TwoArmDesign
from trialsim.design.boundaries import group_sequential_design
from trialsim.design.rules import read_at
from trialsim.design.sequential import SequentialDesign, null_model
from trialsim.design.sequential_oc import sequential_power
from trialsim.design.survival_sizing import survival_design
from trialsim.model import DiseaseModel, ParametricArm, Trial, default_model, default_trial
from trialsim.scenarios import load_scenario

FORMAT = re.compile(r"^trialsim(?: (?P<command>[a-z-]+))?: error: (?P<subject>\S.*?) (?P<rule>\S.*) \(got (?P<value>.*)\)$")
BOUNDARY_KEYS = {"information_fraction", "efficacy_z", "futility_z", "nominal_p", "cumulative_alpha", "cumulative_beta",
                 "efficacy_crossing_h0", "efficacy_crossing_h1", "futility_crossing_h0", "futility_crossing_h1"}
DESIGN_KEYS = {"information_fraction", "events", "analysis_time", "subjects", "efficacy_z", "futility_z",
               "efficacy_hazard_ratio"}
POWER_LOOK_KEYS = {"information_fraction", "efficacy_z", "futility_z", "mean_deaths", "efficacy_stop",
                   "efficacy_stop_se", "futility_stop", "futility_stop_se"}


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_boundaries_json_is_the_library_design(capsys):
    out = run_json(capsys, "boundaries", "--looks", "0.5,1", "--spending", "ld-of", "--futility", "hsd:-2",
                   "--alpha", "0.025", "--sided", "1", "--power", "0.8")
    gs = group_sequential_design([0.5, 1.0], alpha=0.025, power=0.8, efficacy="ld-of", futility="hsd:-2")
    assert set(out) == {"looks", "inflation_factor", "expected_information_h0", "expected_information_h1"}
    assert all(set(look) == BOUNDARY_KEYS for look in out["looks"])
    assert out == json.loads(json.dumps(gs.to_dict()))
    plain = run_json(capsys, "boundaries", "--looks", "0.3,0.7,1")
    assert [look["futility_z"] for look in plain["looks"]] == [None, None, None]  # no futility bound: null


def test_boundaries_text(capsys):
    code, out, _ = run(capsys, "boundaries", "--looks", "0.5,1", "--spending", "of", "--sided", "2", "--alpha", "0.05")
    assert code == 0
    gs = group_sequential_design([0.5, 1.0], alpha=0.05, power=0.8, efficacy="of", sided=2)
    assert "two-sided (symmetric) alpha 0.05" in out
    assert f"{gs.efficacy_z[0]:.4f}" in out and f"inflation factor {gs.inflation_factor:.4f}" in out


def test_design_json_is_the_library_survival_design(capsys):
    argv = ["design", "--looks", "0.5,1", "--spending", "of", "--alpha", "0.025", "--power", "0.8", "--hazard-ratio",
            "0.5", "--control-hazard", "0.02", "--accrual-time", "12", "--min-follow-up", "6"]
    out = run_json(capsys, *argv)
    gs = group_sequential_design([0.5, 1.0], alpha=0.025, power=0.8, efficacy="of")
    sd = survival_design(gs, hazard_ratio=0.5, control_hazard=0.02, accrual_time=12, follow_up=6)
    assert {k: out[k] for k in ("looks", "max_events", "n_subjects", "accrual_time", "accrual_rate",
                                "inflation_factor")} == json.loads(json.dumps(sd.to_dict()))
    assert all(set(look) == DESIGN_KEYS for look in out["looks"])
    assert out["max_events"] == pytest.approx(65.8545, abs=1e-4)  # the survival_sizing docstring's example
    assert out["reachable"] == [True, True]
    code, text, _ = run(capsys, *argv)
    assert code == 0 and "maximum events 65.85" in text


def test_design_flags_an_interim_out_of_reach(capsys):
    # 3 looks, OF-type spending, HR 0.25: the first look comes at about 5.5 deaths, where 3.71 is out of reach
    out = run_json(capsys, "design", "--looks", "0.3333,0.6667,1", "--hazard-ratio", "0.25", "--control-median",
                   "10", "--accrual-rate", "2", "--min-follow-up", "4")
    assert out["looks"][0]["events"] == pytest.approx(5.5, abs=0.1)
    assert out["reachable"][0] is False and out["max_attainable_z"][0] < out["looks"][0]["efficacy_z"]


def test_power_with_looks_json_equals_the_library(capsys):
    out = run_json(capsys, "power", "--n", "40", "--seed", "3", "--reps", "2000", "--looks", "0.5,1", "--spending",
                   "pocock", "--futility", "z:0", "--sided", "1", "--alpha", "0.025")
    assert all(set(look) == POWER_LOOK_KEYS for look in out["looks"]) and len(out["looks"]) == 2
    model = default_model()
    design = SequentialDesign(base=TwoArmDesign(sided=1, alpha=0.025), model=model, fractions=(0.5, 1.0),
                              efficacy="pocock", futility="z:0")
    res = sequential_power(model, default_trial(40), design, n_replicates=2000, seed=3)
    assert out["power"] == res.result.power and out["mean_enrolled"] == res.mean_enrolled
    for got, want in zip(out["looks"], res.looks):
        assert got["efficacy_stop"] == want.efficacy_stop and got["futility_stop"] == want.futility_stop
        assert got["mean_deaths"] == pytest.approx(want.mean_deaths, rel=1e-15)
    # the Pocock interim bound 2.18 is out of reach with the 4 deaths planned there (20 an arm: z <= 2.08)
    assert out["looks"][0]["futility_z"] == 0.0 and out["sequential"]["reachable"] == [False, True]
    assert out["looks"][0]["efficacy_stop"] == 0.0


def test_power_with_one_look_is_the_fixed_power_bit_for_bit(capsys):
    plain = run_json(capsys, "power", "--n", "40", "--seed", "5", "--reps", "3000")
    one = run_json(capsys, "power", "--n", "40", "--seed", "5", "--reps", "3000", "--looks", "1")
    for key in plain:
        if key != "design":
            assert one[key] == plain[key], key
    assert one["looks"][0]["efficacy_stop"] == plain["power"]


def test_one_simulated_trial_has_no_standard_error_and_says_so(capsys):
    """One trial has no standard error of a mean: the text prints '-' where the JSON has null (it printed 'nan',
    found by the fuzz suite drawing fresh examples)."""
    argv = ("power", "--events", "1", "--control-median", "1", "--hazard-ratio", "1", "--reps", "1", "--jobs", "1",
            "--seed", "1")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "nan" not in out.lower() and "(s.e. -)" in out and "of the mean deaths -," in out
    sequential = run_json(capsys, *argv)["sequential"]
    assert sequential["mean_enrolled_se"] is None and sequential["mean_deaths_se"] is None
    many = run(capsys, *argv[:-6], "--reps", "50", "--jobs", "1", "--seed", "1")[1]
    assert re.search(r"of the mean deaths \d\.\d{3}, of the mean week of the analysis \d\.\d{3}", many), many


def test_power_null_gives_the_type_one_error(capsys):
    out = run_json(capsys, "power", "--n", "40", "--seed", "2", "--reps", "2000", "--looks", "0.5,1", "--null")
    model = default_model()
    res = sequential_power(null_model(model), default_trial(40),
                           SequentialDesign(base=TwoArmDesign(), model=model, fractions=(0.5, 1.0)),
                           n_replicates=2000, seed=2)
    assert out["null"] is True and out["power"] == res.result.power
    assert out["hazard_ratio"] == pytest.approx(1.0)
    code, text, _ = run(capsys, "power", "--n", "40", "--seed", "2", "--reps", "500", "--looks", "0.5,1", "--null")
    assert text.startswith("Type I error (null: both arms the control)")


def test_calibrated_power_reports_alpha_per_look_and_repeats(capsys):
    argv = ["power", "--n", "40", "--seed", "4", "--reps", "2000", "--looks", "0.5,1", "--calibrate-boundaries"]
    first, second = run_json(capsys, *argv), run_json(capsys, *argv)
    assert first == second
    seq = first["sequential"]
    assert seq["calibrated"] and seq["calibration"]["spawn_key"] == [2 ** 30]
    assert seq["calibrated_alpha"][0] == 0.0 and seq["calibrated_alpha"][1] == pytest.approx(0.05, abs=1e-9)
    assert seq["checked_alpha_se"][1] == pytest.approx(math.sqrt(seq["checked_alpha"][1] *
                                                                 (1 - seq["checked_alpha"][1]) / 2000))
    assert first["looks"][0]["efficacy_z"] is None  # no bound at the interim: inf, written as null
    code, text, _ = run(capsys, *argv)
    assert "alpha on new null trials" in text and "no efficacy bound" in text


def test_events_with_a_long_follow_up_run_to_their_death(capsys):
    # rpact's event-driven trial: patients followed until the target death; with follow-up over at 8 weeks
    # some trials end short, and the result says how many
    argv = ["power", "--n", "40", "--seed", "1", "--reps", "1000", "--accrual-rate", "2", "--events", "12",
            "--control-median", "20", "--hazard-ratio", "0.5", "--horizon", "8"]
    short = run_json(capsys, *argv)
    assert short["target_events"] == 12 and short["short_of_events"] > 100
    long = run_json(capsys, *argv, "--follow-up", "520")
    assert long["short_of_events"] == 0 and long["mean_deaths"] == 12.0 and short["mean_deaths"] < 12.0
    limited = run_json(capsys, *argv, "--follow-up", "520", "--max-duration", "30")
    assert limited["mean_duration"] <= 30 and limited["short_of_events"] > 0


def test_sample_size_with_looks(capsys):
    out = run_json(capsys, "sample-size", "--seed", "1", "--reps", "1000", "--looks", "0.5,1", "--control-survival",
                   "0.62", "--treatment-survival", "0.95")
    assert "2 looks" in out["design"] and out["n"] >= 30
    calibrated = run_json(capsys, "sample-size", "--seed", "1", "--reps", "1000", "--looks", "0.5,1",
                          "--calibrate-boundaries", "--control-survival", "0.62", "--treatment-survival", "0.95")
    again = run_json(capsys, "sample-size", "--seed", "1", "--reps", "1000", "--looks", "0.5,1",
                     "--calibrate-boundaries", "--control-survival", "0.62", "--treatment-survival", "0.95")
    assert calibrated == again and "calibrated" in calibrated["design"]


def test_follow_up_beyond_the_horizon_reads_binary_endpoints_at_the_horizon():
    long = load_scenario("default", overrides={("trial", "follow_up"): (20.0, "--follow-up"),
                                               ("design", "endpoint"): ("survival_binary", "--endpoint"),
                                               ("design", "test"): (None, "")})
    assert long.design.horizon == 8.0 and long.trial.follow_up == 20.0
    logrank = load_scenario("default", overrides={("trial", "follow_up"): (20.0, "--follow-up")})
    assert logrank.design.horizon is None  # the log-rank uses all follow-up to the data cut
    assert read_at(TwoArmDesign(endpoint="survival_binary"), Trial(n=40, follow_up=6.0), 8.0).horizon is None


CONTROL = ParametricArm.from_survival(0.62, at=8.0)


def test_scenario_file_takes_the_same_keys(tmp_path, capsys):
    path = tmp_path / "looks.toml"
    path.write_text('[model]\nkind = "parametric"\ncontrol_survival = 0.62\nhazard_ratio = 0.3\n'
                    '[trial]\nn = 40\naccrual_rate = 2.0\nfollow_up = 52.0\nmax_duration = 40.0\n'
                    'analysis = "events"\ntarget_events = 10\n'
                    '[design]\nsided = 1\nalpha = 0.025\nlooks = [0.5, 1.0]\nspending = "pocock"\n'
                    'futility = "z:0"\nbinding = true\n', encoding="utf-8")
    scenario = load_scenario(str(path))
    design = scenario.design
    assert isinstance(design, SequentialDesign) and design.fractions == (0.5, 1.0) and design.binding
    assert scenario.trial.max_duration == 40.0
    model = DiseaseModel(arms=(CONTROL.with_hazard_ratio(0.3), CONTROL), arm_names=("treatment", "control"))
    assert design.model == model
    out = run_json(capsys, "power", "--scenario", str(path), "--seed", "1", "--reps", "500")
    assert [look["futility_z"] for look in out["looks"]] == [0.0, out["looks"][1]["efficacy_z"]]


@pytest.mark.parametrize("argv, subject, rule", [
    (["boundaries", "--looks", "0.5,0.4,1"], "--looks", "must be increasing"),
    (["boundaries", "--looks", "0.5,1.5"], "--looks", "must be in (0, 1]"),
    (["boundaries", "--looks", "0.5,0.8"], "--looks", "must end at 1"),
    (["boundaries", "--looks", "0.5,x"], "--looks", "must be numbers separated by commas"),
    (["boundaries", "--looks", "0.5,1", "--spending", "obf"], "--spending", "must be one of"),
    (["boundaries", "--looks", "0.5,1", "--spending", "hsd:41"], "--spending", "between -40 and 40"),
    (["boundaries", "--looks", "0.5,1", "--spending", "kd:0"], "--spending", "> 0 and <= 50"),
    (["boundaries", "--looks", "0.5,1", "--futility", "z:3.5"], "--futility", "reaches the efficacy bound"),
    (["boundaries", "--looks", "0.5,1", "--futility", "nope"], "--futility", "must be one of"),
    (["boundaries", "--looks", "0.5,1", "--alpha", "1.5"], "--alpha", "must be a number in (0, 1)"),
    (["boundaries"], "--looks", "is required"),
    (["design", "--hazard-ratio", "0.5", "--control-median", "10", "--accrual-rate", "3"],
     "--accrual-time/--accrual-rate/--min-follow-up", "needs exactly two"),
    (["design", "--hazard-ratio", "1", "--control-median", "10", "--accrual-rate", "3", "--min-follow-up", "5"],
     "--hazard-ratio", "must differ from 1"),
    (["power", "--looks", "0.6,0.5,1"], "--looks", "must be increasing"),
    (["power", "--looks", "0.5,1", "--spending", "wt:2"], "--spending", "between -0.5 and 1"),
    (["power", "--look-times", "4,10", "--max-duration", "8"], "--look-times", "must not exceed the maximum duration"),
    (["power", "--look-times", "4,8", "--events", "5"], "--look-times", "exclude each other"),
    (["power", "--look-times", "8,4"], "--look-times", "strictly increasing"),
    (["power", "--max-duration", "0"], "--max-duration", "must be a number > 0"),
    (["power", "--analysis-time", "20", "--max-duration", "10"], "--analysis-time", "must not exceed the maximum"),
    (["power", "--design", "single-arm", "--n", "20", "--looks", "0.5,1"], "--looks", "two-arm log-rank"),
    (["power", "--looks", "0.5,1", "--futility", "z:0", "--sided", "1", "--grid", "n=20:30:10",
      "--calibrate-boundaries"], "--calibrate-boundaries", "does not combine with --grid"),
    (["sample-size", "--looks", "0.5,1", "--futility", "z:2.5,1", "--sided", "1"], "--futility", "one z per interim"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, subject, rule):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    match = FORMAT.match(lines[0])
    assert match, lines[0]
    assert match["subject"] == subject and rule in match["rule"], lines[0]


def test_scenario_file_errors_name_the_file_and_key(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[trial]\nn = 40\n[design]\nlooks = [0.6, 0.5, 1.0]\n", encoding="utf-8")
    code, _, err = run(capsys, "power", "--scenario", str(path))
    assert code == 2 and f"{path}: [design] looks must be increasing" in err
