"""The command line of the Bayesian and single-arm designs and of assurance: `power --decision bayes` (exact type I
error and power by enumeration agree with the simulation through the CLI, 4 standard errors; the prior-data
conflict grid), `sample-size` and `assurance` with a Bayesian rule, `assurance` (JSON keys, one seed whatever the
workers, the curve), `simon` (Simon 1989 designs as the library gives them; simulated under the CTD-MAS model), the
[design] keys of scenario files, and every bad input exiting 2 with one line.
"""

import json
import math

import pytest

import trialsim.design.montecarlo as mc
from trialsim.cli import main
from trialsim.design.bayes_design import BayesSingleArmDesign, BayesTwoArmDesign
from trialsim.design.simon import simon_design
from trialsim.exceptions import InputError
from trialsim.scenarios import build_scenario

BAYES = ["--decision", "bayes", "--threshold", "0.975"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, piece", [
    (["power", "--decision", "bayes", "--threshold", "1.5"], "--threshold must be a number in (0, 1) (got '1.5')"),
    (["power", "--decision", "bayes", "--threshold", "0"], "--threshold must be a number in (0, 1)"),
    (["power", *BAYES, "--borrow", "power", "--a0", "1.5"], "--a0 must be a number in [0, 1] (got '1.5')"),
    (["power", *BAYES, "--borrow", "robust", "--robust-weight", "2"], "--robust-weight must be a number in [0, 1]"),
    (["power", *BAYES, "--analysis-prior", "flat"], "--analysis-prior must be 'uniform', 'jeffreys' or 'A,B'"),
    (["assurance", "--prior", "flat"], "--prior must be 'jeffreys', 'uniform' or 'A,B'"),
    (["simon", "--p0", "0.62", "--p1", "0.5"], "--p1 must be greater than p0 = 0.62 (got 0.5)"),
    (["simon", "--p0", "0.62", "--p1", "0.62"], "--p1 must be greater than p0"),
    (["power", "--threshold", "0.9"], "--threshold applies to a Bayesian rule: give --decision bayes"),
    (["power", "--decision", "bayes"], "--threshold is required with --decision bayes"),
    (["power", *BAYES, "--alpha", "0.05"], "--alpha does not apply to --decision bayes"),
    (["power", *BAYES, "--historical", "22/21"], "--historical must be X/N"),
    (["power", *BAYES, "--design", "historical"], "decision 'bayes' applies to kind two_arm or single_arm"),
    (["power", *BAYES, "--conflict-grid", "0.4:1.2:0.2"], "--conflict-grid must hold 1 to 200 survival"),
    (["assurance", "--grid", "alpha=0.1,0.2"], "--grid must be n=SPEC"),
    (["assurance", "--effect-scale", "-1"], "--effect-scale must be a number >= 0"),
    (["assurance", "--draws", "0"], "--draws must be a positive integer"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, piece):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and piece in err and err.startswith(f"trialsim {argv[0]}: error: "), err


def test_power_decision_bayes_exact_and_simulated_agree(capsys):
    reps = 10_000
    code, out, _ = run(capsys, "power", *BAYES, "--endpoint", "survival-binary", "--reps", str(reps), "--seed", "3",
                       "--jobs", "1", "--json")
    assert code == 0
    result = json.loads(out)
    decision = result["decision"]
    assert {"rule", "threshold", "prior"} <= set(decision) and decision["threshold"] == 0.975
    assert decision["prior"] == "uniform" and decision["rule"].startswith("P(survival at the horizon")
    exact = decision["exact"]
    for simulated, value in ((result["power"], exact["power"]), (decision["type_i_error"], exact["type_i_error"])):
        assert abs(simulated - value) <= 4 * math.sqrt(value * (1 - value) / reps), (simulated, value)   # 4 s.e.
    assert result["analytic_power"] == exact["power"] and result["analytic_method"].startswith("exact")
    assert decision["ess"] == {"treatment": 2.0, "control": 2.0}


def test_power_decision_bayes_text(capsys):
    code, out, _ = run(capsys, "power", *BAYES, "--reps", "1000", "--seed", "1", "--jobs", "1")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("Power: randomised two-arm, Bayesian: P(hazard ratio < 1 | data)")
    assert lines[-1].startswith("  seed ") and lines[-3].startswith("  type I ") and lines[-2].startswith("  priors ")


@pytest.mark.slow
def test_conflict_grid_through_the_cli(capsys):
    reps = 4000
    code, out, _ = run(capsys, "power", *BAYES, "--endpoint", "survival-binary", "--borrow", "power", "--a0", "1",
                       "--conflict-grid", "0.45,0.8", "--reps", str(reps), "--seed", "4", "--jobs", "1", "--json")
    rows = json.loads(out)["conflict"]["rows"]
    assert code == 0 and [r["control_survival"] for r in rows] == [0.45, 0.8]
    for row in rows:
        for sim, exact in ((row["type_i_error"], row["type_i_exact"]), (row["power"], row["power_exact"])):
            assert abs(sim - exact) <= 4 * math.sqrt(exact * (1 - exact) / reps) + 1e-12          # 4 s.e.
    assert rows[1]["type_i_exact"] > 0.05 > rows[0]["type_i_exact"]     # pooling 13/21 when today's controls are healthier


def test_sample_size_with_a_bayesian_rule(capsys):
    code, out, _ = run(capsys, "sample-size", *BAYES, "--endpoint", "survival-binary", "--reps", "2000", "--seed",
                       "1", "--jobs", "1", "--json")
    result = json.loads(out)
    assert code == 0 and result["converged"] and result["design"].startswith("randomised two-arm, Bayesian")
    assert result["power_at_n"] >= 0.8 > result["power_below"]


def test_assurance_json_and_one_seed_whatever_the_workers(capsys, monkeypatch):
    import trialsim.design.assurance as A

    monkeypatch.setattr(A, "_TASK_TRIALS", 400)
    monkeypatch.setattr(mc, "_POOL_WORTH_SECONDS", 0.0)
    monkeypatch.setattr(mc, "_POOL_START_SECONDS", -1e9)
    argv = ["assurance", "--n", "40", "--draws", "30", "--reps", "100", "--point-reps", "500", "--seed", "5", "--json"]
    outs = [run(capsys, *argv, *extra)[1] for extra in (["--jobs", "1"], ["--jobs", "2"],
                                                        ["--jobs", "2", "--backend", "threading"])]
    assert outs[0] == outs[1] == outs[2]
    result = json.loads(outs[0])
    assert {"assurance", "standard_error", "power_quantiles", "probability_no_benefit", "power_at_point_estimate",
            "n_draws", "trials_per_draw", "seed", "prior"} <= set(result)
    assert set(result["power_quantiles"]) == {"0.1", "0.5", "0.9"}
    assert (result["n_draws"], result["trials_per_draw"], result["seed"], result["prior"]) == (30, 100, 5, "jeffreys")
    assert round(result["probability_no_benefit"], 4) == 0.0037


def test_assurance_with_one_draw_or_one_trial_prints_no_nan(capsys):
    """A standard deviation or error that one draw or one trial per draw cannot estimate prints '-' (the JSON
    has null); the fuzz suite found 'nan' in the text."""
    for draws, reps in (("6", "1"), ("1", "10")):
        code, out, err = run(capsys, "assurance", "--draws", draws, "--reps", reps, "--point-reps", "50", "--jobs",
                             "1", "--seed", "1")
        assert code == 0, err
        assert "nan" not in out.lower() and "between-draw s.d. -)" in out
    assert "(Monte Carlo s.e. -; 1 draw x 10 trials)" in out


def test_assurance_text_curve_and_bayes(capsys):
    code, out, _ = run(capsys, "assurance", "--draws", "20", "--reps", "50", "--point-reps", "200", "--seed", "6",
                       "--jobs", "1", "--grid", "n=30,40")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("Assurance curve:") and lines[3].split()[0] == "30"
    assert "steps (paired): 30->40" in out
    code, out, _ = run(capsys, "assurance", *BAYES, "--endpoint", "survival-binary", "--draws", "20", "--reps", "50",
                       "--point-reps", "200", "--seed", "6", "--jobs", "1", "--effect-scale", "0.5", "--prior",
                       "uniform")
    assert code == 0 and "Bayesian" in out.splitlines()[0] and "log hazard ratio x 0.5" in out
    assert "Beta(20, 2) vs Beta(14, 9)" in out


def test_simon_json_is_the_libraries_designs(capsys):
    code, out, _ = run(capsys, "simon", "--p0", "0.62", "--p1", "0.9", "--alpha", "0.05", "--power", "0.8", "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"optimal", "minimax"}
    for kind in ("optimal", "minimax"):
        assert result[kind] == pytest.approx(simon_design(0.62, 0.9, 0.05, 0.8, kind=kind).to_dict())
        assert set(result[kind]) == {"r1", "n1", "r", "n", "en0", "pet0", "alpha", "power"}
    code, out, _ = run(capsys, "simon", "--p0", "0.1", "--p1", "0.3", "--json")       # Simon (1989) Table 1
    assert {k: json.loads(out)["optimal"][k] for k in ("r1", "n1", "r", "n")} == {"r1": 1, "n1": 10, "r": 5, "n": 29}
    code, out, _ = run(capsys, "simon", "--p0", "0.62", "--p1", "0.85")
    assert code == 0 and "optimal    6/9  20/27   13.88" in out and "stop after stage 1 if responses <= r1 of n1" in out


@pytest.mark.slow
def test_simon_simulated_under_the_model(capsys):
    reps = 4000
    code, out, _ = run(capsys, "simon", "--p0", "0.62", "--p1", "0.85", "--simulate", "--reps", str(reps), "--seed",
                       "7", "--jobs", "1", "--json")
    rows = json.loads(out)["simulated"]["rows"]
    assert code == 0 and [(r["design"], r["arm"]) for r in rows] == [
        ("optimal", "ruxolitinib"), ("optimal", "control"), ("minimax", "ruxolitinib"), ("minimax", "control")]
    for r in rows:
        e = r["exact_reject"]
        assert abs(r["reject"] - e) <= 4 * math.sqrt(e * (1 - e) / reps) + 1e-12            # 4 s.e.


def test_scenario_file_with_bayesian_keys(capsys, tmp_path):
    path = tmp_path / "bayes.toml"
    path.write_text('[trial]\nn = 42\nallocation = [2, 1]\n[design]\ndecision = "bayes"\nendpoint = "survival_binary"\n'
                    'threshold = 0.975\nborrow = "robust"\nrobust_weight = 0.5\n', encoding="utf-8")
    code, out, _ = run(capsys, "power", "--scenario", str(path), "--reps", "500", "--seed", "1", "--jobs", "1")
    assert code == 0 and "control borrowing 13/21 (robust, weight 0.5 vague)" in out and "n = 42 (28:14)" in out
    code, _, err = run(capsys, "power", "--scenario", str(path), "--threshold", "2")
    assert code == 2 and "--threshold must be a number in (0, 1)" in err
    code, out, _ = run(capsys, "power", "--scenario", str(path), "--decision", "frequentist", "--reps", "200",
                       "--seed", "1", "--jobs", "1")
    assert code == 0 and "Fisher's exact test" in out


def test_scenario_files_take_the_bayesian_keys():
    data = {"trial": {"n": 42, "allocation": [2, 1]},
            "design": {"kind": "two_arm", "decision": "bayes", "endpoint": "survival_binary", "threshold": 0.975,
                       "analysis_prior": "jeffreys", "borrow": "robust", "robust_weight": 0.5, "historical": [13, 21]}}
    design = build_scenario(data, source="mine.toml").design
    assert isinstance(design, BayesTwoArmDesign) and design.historical == (13, 21) and design.robust_weight == 0.5
    single = build_scenario({"trial": {"n": 20, "allocation": [1]}, "design": {"kind": "single_arm",
                                                                              "decision": "bayes",
                                                                              "threshold": 0.9}}).design
    assert isinstance(single, BayesSingleArmDesign) and single.borrow == "power"
    for bad, piece in (({"decision": "bayes", "threshold": 1.5}, "[design] threshold"),
                       ({"decision": "bayes", "threshold": 0.9, "alpha": 0.05}, "[design] alpha"),
                       ({"decision": "maybe"}, "[design] decision"),
                       ({"kind": "historical_control", "decision": "bayes", "threshold": 0.9}, "[design] decision"),
                       ({"decision": "bayes", "threshold": 0.9, "a0": 2}, "[design] a0")):
        with pytest.raises(InputError) as err:
            build_scenario({"trial": {"n": 40}, "design": bad}, source="mine.toml")
        assert piece in str(err.value), str(err.value)




def test_assurance_takes_the_looks_of_a_group_sequential_design(capsys):
    argv = ["assurance", "--draws", "10", "--reps", "60", "--point-reps", "300", "--seed", "8", "--jobs", "1",
            "--sided", "1", "--alpha", "0.025"]
    code, out, _ = run(capsys, *argv, "--looks", "0.5,1", "--json")
    looks = json.loads(out)
    assert code == 0 and looks["design"].endswith("2 looks (ld-of)")
    code, out, _ = run(capsys, *argv, "--looks", "1", "--json")        # one look: the fixed design, bit for bit
    code_fixed, fixed, _ = run(capsys, *argv, "--json")
    assert json.loads(out)["assurance"] == json.loads(fixed)["assurance"]
