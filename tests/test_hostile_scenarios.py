"""Hostile input, finding 4: strict scenario files.

Booleans and integers are of their TOML type; an empty allocation, a nesting deeper than the schema and a
file of a megabyte are one line, not ``ZeroDivisionError`` or ``RecursionError``; keys that contradict each
other name both; an error never echoes a long value from a file; names, descriptions and paths are printed
with control characters escaped; a FIFO or a device given as a scenario gets the right message. (Each error's
one line is checked in tests/test_cli_errors.py; this file checks what is behind them.)
"""

from __future__ import annotations

import json
import os

import pytest

from trialsim.cli import main
from trialsim.exceptions import InputError
from trialsim.scenarios import build_scenario, load_scenario


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("table, key, value", [
    ("trial", "stratified", '"false"'), ("trial", "stratified", "0"), ("trial", "stratified", "1"),
    ("design", "stratified", '"true"'), ("trial", "n", "40.0"), ("trial", "n", '"40"'), ("trial", "n", "true"),
    ("design", "sided", "2.0"), ("design", "sided", '"2"'), ("trial", "allocation", "[1.0, 1.0]"),
    ("trial", "allocation", "[true, true]"), ("trial", "block_size", "4.0"), ("trial", "target_events", "3.0"),
    ("design", "n_historical", "21.0"), ("design", "alpha", '"0.05"'), ("design", "alpha", "true"),
    ("trial", "follow_up", '"8"'), ("trial", "dropout_hazard", "false"),
])
def test_values_must_be_of_their_toml_type(tmp_path, table, key, value):
    head = "[trial]\nn = 40\n" if (table, key) != ("trial", "n") else ""
    if key == "target_events":
        text = f'[trial]\nn = 40\nanalysis = "events"\n{key} = {value}\n'
    elif key == "n_historical":
        text = f'[trial]\nn = 20\nallocation = [1]\n[design]\nkind = "historical_control"\n{key} = {value}\n'
    elif table == "trial":
        text = f"[trial]\n{'n = 40' if key != 'n' else ''}\n{key} = {value}\n"
    else:
        text = f"{head}[design]\n{key} = {value}\n"
    with pytest.raises(InputError) as info:
        load_scenario(str(write(tmp_path, text)))
    assert f"[{table}] {key} " in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("command", ["power", "sample-size", "simulate"])
def test_an_empty_allocation_is_one_line(capsys, tmp_path, command):
    path = write(tmp_path, "[trial]\nn = 40\nallocation = []\n")
    code, _, err = run(capsys, command, "--scenario", path, "--reps", "10")
    assert code == 2 and err.count("\n") == 1 and "[trial] allocation must hold one positive integer" in err


def test_sample_size_with_an_allocation_option_sizes_in_its_blocks(capsys):
    # the placeholder trial of a search was 2 patients for any --allocation, refused as "not a multiple of 3"
    code, out, err = run(capsys, "sample-size", "--allocation", "2:1", "--control-survival", "0.6", "--hazard-ratio",
                         "0.3", "--reps", "200", "--n-max", "90", "--seed", "1", "--jobs", "1", "--json")
    assert code in (0, 1), err
    assert json.loads(out)["block"] == 3


@pytest.mark.parametrize("text", ["x = " + "[" * 5000 + "]" * 5000 + "\n",
                                  "[trial]\nn = 40\n" + "".join(f"[a{'.b' * k}]\n" for k in range(1, 3)) + "",
                                  "[trial]\nn = 40\n[model.baseline]\ndisease_fractions = " + "[" * 500 + "]" * 500])
def test_nesting_deeper_than_the_schema_is_one_line(capsys, tmp_path, text):
    code, _, err = run(capsys, "power", "--scenario", write(tmp_path, text), "--reps", "10")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and "RecursionError" not in err


def test_a_file_of_a_megabyte_is_not_read_whole(capsys, tmp_path):
    code, _, err = run(capsys, "power", "--scenario", write(tmp_path, "#" * 3_000_000), "--reps", "10")
    assert code == 2 and "must be at most 1,000,000 bytes" in err


@pytest.mark.parametrize("text, both", [
    ('[trial]\nn = 40\nanalysis = "complete"\nanalysis_time = 4.0\n', ("analysis_time", "analysis = 'complete'")),
    ('[trial]\nn = 40\nanalysis_time = 4.0\n', ("analysis_time", "analysis = 'complete'")),
    ('[trial]\nn = 40\nanalysis = "events"\nanalysis_time = 4.0\ntarget_events = 3\n',
     ("analysis_time", "analysis = 'events'")),
    ('[trial]\nn = 40\nanalysis = "complete"\ntarget_events = 3\n', ("target_events", "analysis = 'complete'")),
    ('[trial]\nn = 20\nallocation = [1]\n[design]\nkind = "historical_control"\narm = 0\ncontrol_arm = 0\n',
     ("control_arm", "`arm`")),
])
def test_keys_that_contradict_each_other_are_both_named(tmp_path, text, both):
    with pytest.raises(InputError) as info:
        load_scenario(str(write(tmp_path, text)))
    assert all(name in str(info.value) for name in both), str(info.value)


def test_an_option_that_resolves_the_contradiction_wins_over_the_file(capsys, tmp_path):
    path = write(tmp_path, '[trial]\nn = 40\nanalysis = "events"\ntarget_events = 3\n')
    code, _, err = run(capsys, "power", "--scenario", path, "--analysis-time", "6", "--reps", "20", "--seed", "1",
                       "--jobs", "1")
    assert code == 0, err


@pytest.mark.parametrize("key, value", [("n", '"sk-0123456789abcdefghijklmnopqrstuvwxyz"'),
                                        ("follow_up", '"sk-0123456789abcdefghijklmnopqrstuvwxyz"'),
                                        ("allocation", '["sk-0123456789abcdefghijklmnopqrstuvwxyz"]'),
                                        ("dropout_hazard", '["sk-0123456789abcdefghijklmnopqrstuvwxyz", 1]'),
                                        ("analysis", '"sk-0123456789abcdefghijklmnopqrstuvwxyz"'),
                                        ("stratified", '{a = "sk-0123456789abcdefghijklmnopqrstuvwxyz"}')])
def test_a_value_from_a_file_is_never_echoed_at_length(tmp_path, key, value):
    text = f"[trial]\n{'n = 40' if key != 'n' else ''}\n{key} = {value}\n"
    with pytest.raises(InputError) as info:
        load_scenario(str(write(tmp_path, text)))
    assert f"[trial] {key}" in str(info.value) and "0123456789" not in str(info.value)


@pytest.mark.parametrize("name", ["evil\x1b[31mred", "two\nlines", "tab\there", "bell\x07", "rtl\u202eexe.toml",
                                  "nul\x00byte", "line\u2028separator"])
def test_names_and_descriptions_are_printed_with_control_characters_escaped(capsys, tmp_path, name):
    text = f"name = {json.dumps(name)}\ndescription = {json.dumps(name)}\n[trial]\nn = 40\n"
    scenario = load_scenario(str(write(tmp_path, text)))
    assert scenario.name.isprintable() and scenario.description.isprintable()
    code, out, _ = run(capsys, "power", "--scenario", write(tmp_path, text), "--reps", "20", "--seed", "1",
                       "--jobs", "1")
    assert code == 0 and all(line.isprintable() for line in out.splitlines())
    assert out.count("\n") == 7  # no line added by the name


def test_printable_text_stays_as_written_and_long_names_are_cut(tmp_path):
    scenario = load_scenario(str(write(tmp_path, 'name = "Étude 東京 ruxolitinib"\n[trial]\nn = 40\n')))
    assert scenario.name == "Étude 東京 ruxolitinib"
    scenario = load_scenario(str(write(tmp_path, f'name = "{"x" * 5000}"\n[trial]\nn = 40\n')))
    assert len(scenario.name) <= 200


@pytest.mark.parametrize("value", ["3", "[1, 2]", "{a = 1}", "true"])
def test_a_name_must_be_a_string(tmp_path, value):
    with pytest.raises(InputError, match="name must be a string"):
        load_scenario(str(write(tmp_path, f"name = {value}\n[trial]\nn = 40\n")))


def test_a_path_with_a_newline_is_escaped_in_the_error(capsys, tmp_path):
    path = write(tmp_path, "[trial]\nn = 41\n", name="two\nlines.toml")
    code, _, err = run(capsys, "power", "--scenario", path, "--reps", "10")
    assert code == 2 and err.count("\n") == 1 and "two\\nlines.toml" in err


@pytest.mark.parametrize("special", ["fifo", "/dev/null", "/dev/zero", "directory"])
def test_special_files_get_the_right_message(capsys, tmp_path, special):
    if special == "fifo":
        special = tmp_path / "p.toml"
        os.mkfifo(special)
    elif special == "directory":
        special = tmp_path
    code, _, err = run(capsys, "power", "--scenario", special, "--reps", "10")
    assert code == 2 and "--scenario must be a regular file (a TOML scenario), not a directory, device or pipe" in err
    assert "does not exist" not in err and "existing file" not in err


def test_a_scenario_name_with_a_nul_is_refused():
    with pytest.raises(InputError, match="--scenario"):
        load_scenario("a\x00b.toml")
    with pytest.raises(InputError, match="--scenario"):
        load_scenario("x" * 5000 + ".toml")


@pytest.mark.parametrize("section, key, value, rule", [
    ("model", "horizon", 0.5, "must be a number in [1, 520]"), ("model", "horizon", 600.0, "[1, 520]"),
    ("trial", "follow_up", 2000.0, "[0.01, 1040]"), ("trial", "analysis_time", 1e9, "[0.01, 100000]"),
    ("trial", "accrual_rate", 1e-9, "[0.001, 100000]"), ("trial", "dropout_hazard", 1e-300, "0 or a number in"),
    ("trial", "n", 100_001, "must be at most 100,000"), ("trial", "block_size", 20_000, "must be at most 10,000"),
    ("trial", "allocation", [2000, 1], "must hold integers of at most 1000"),
    ("design", "null_survival", 1e-9, "[1e-06, 0.999999]"),
])
def test_documented_ranges_hold_in_files_and_name_the_key(section, key, value, rule):
    data = {"trial": {"n": 40}}
    if section == "design" and key == "null_survival":
        data = {"trial": {"n": 20, "allocation": [1]}, "design": {"kind": "single_arm"}}
    data.setdefault(section, {})[key] = value
    with pytest.raises(InputError) as info:
        build_scenario(data, source="s.toml")
    assert f"s.toml: [{section}] {key} " in str(info.value) and rule in str(info.value)


def test_an_option_out_of_range_is_named_as_the_option():
    with pytest.raises(InputError) as info:
        build_scenario({"trial": {"n": 40}}, source="s.toml", overrides={("trial", "accrual_rate"): (1e-9, "--rate")})
    assert str(info.value).startswith("--rate must be a number in [0.001, 100000]")


@pytest.mark.parametrize("model, key", [
    ({"kind": "parametric", "control_median": 0.01, "hazard_ratio": 0.5}, "control_median"),
    ({"kind": "parametric", "control_survival": 0.6, "hazard_ratio": 900.0}, "hazard_ratio"),
    ({"kind": "parametric", "horizon": 1.0, "control_median": 1e6, "treatment_median": 10.0}, "control_median"),
    ({"kind": "parametric", "horizon": 0.01, "control_median": 1e5, "hazard_ratio": 0.5}, "control_median"),
])
def test_a_parametric_arm_without_deaths_or_survivors_at_the_horizon_is_refused(model, key):
    with pytest.raises(InputError) as info:
        build_scenario({"model": model, "trial": {"n": 40}}, source="s.toml")
    assert f"[model] {key} must give the" in str(info.value) and "survival at the horizon" in str(info.value)
