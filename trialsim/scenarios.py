"""Scenarios: TOML files that name a model, a trial and a design.

A scenario file has three tables (see ``scenarios/default.toml``, the commented template)::

    name = "default"
    description = "..."
    [model]   kind = "ctdmas" | "parametric", horizon, and for parametric arms control_survival |
              control_median, and treatment_survival | treatment_median | hazard_ratio; for ctdmas,
              optional tables [model.ruxolitinib.response] (.taper, .infection), [model.control.*] and
              [model.baseline] that override fields of the calibrated model
    [trial]   n, allocation, stratified, block_size, follow_up, dropout_hazard, accrual_rate, analysis,
              analysis_time, target_events
    [design]  kind = "two_arm" | "single_arm" | "historical_control", and the fields of that design class

Built-in scenarios are found by name (``default``, ``parametric``, ``single_arm_rate``, ``historical_arm``);
anything else is read as a path. Every error names the file (or the command-line option that set the value),
the key and the value, on one line. This module is the only reader of scenario files (tomllib).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .design.rules import Design, HistoricalControlDesign, SingleArmDesign, TwoArmDesign
from .exceptions import InputError
from .model import Accrual, BaselineMix, DiseaseModel, Infection, ParametricArm, ResponseProcess, Taper, Trial

__all__ = ["Scenario", "load_scenario", "read_scenario", "build_scenario", "builtin_scenarios", "find_scenario",
           "parametric_model"]

_TOP_KEYS = ("name", "description", "model", "trial", "design")
_MODEL_KEYS = ("kind", "horizon", "control_survival", "treatment_survival", "control_median", "treatment_median",
               "hazard_ratio", "ruxolitinib", "control", "baseline")
_PARAMETRIC_KEYS = ("control_survival", "treatment_survival", "control_median", "treatment_median", "hazard_ratio")
_TRIAL_KEYS = ("n", "allocation", "stratified", "block_size", "follow_up", "dropout_hazard", "accrual_rate",
               "analysis", "analysis_time", "target_events")
_DESIGNS: dict[str, type] = {"two_arm": TwoArmDesign, "single_arm": SingleArmDesign,
                             "historical_control": HistoricalControlDesign}
_ARM_PARTS = {"response": ResponseProcess, "taper": Taper, "infection": Infection}


@dataclass(frozen=True, kw_only=True, slots=True)
class Scenario:
    """A model, a trial and a design, with where they came from."""

    name: str
    description: str
    model: DiseaseModel
    trial: Trial
    design: Design
    source: str

    @property
    def horizon(self) -> float:
        return float(self.trial.follow_up if self.design.horizon is None else self.design.horizon)


# --------------------------------------------------------------------------------------- finding files


def _scenario_folder():
    """The built-in scenario files: the installed ``trialsim.scenario_files`` package (the top-level
    ``scenarios/`` folder, mapped in by pyproject), or that folder itself when trialsim runs from a source tree
    (``python -m pytest`` in a checkout imports the package from the checkout, where the mapping does not exist).
    """
    source_tree = Path(__file__).resolve().parent.parent / "scenarios"
    try:
        return resources.files("trialsim.scenario_files")
    except ModuleNotFoundError:
        return source_tree


def builtin_scenarios() -> dict[str, Any]:
    """Built-in scenario files by name (``importlib.resources`` traversables)."""
    folder = _scenario_folder()
    return {p.name[:-5]: p for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".toml")}


def find_scenario(name_or_path: str | Path):
    """The file of a built-in scenario name, or ``name_or_path`` itself when it is an existing file."""
    text = str(name_or_path)
    builtin = builtin_scenarios()
    if text.replace("-", "_") in builtin:  # single-arm-rate and single_arm_rate both name a built-in
        return builtin[text.replace("-", "_")]
    path = Path(text)
    if path.is_file():
        return path
    if path.suffix == ".toml" or "/" in text or "\\" in text:
        raise InputError(f"scenario file {text!r} does not exist")
    raise InputError(f"unknown scenario {text!r}; built-in scenarios: {', '.join(builtin)} (or give a path to a "
                     f".toml file)")


def read_scenario(name_or_path: str | Path) -> tuple[dict, str]:
    """(raw TOML data, label of the source for messages)."""
    found = find_scenario(name_or_path)
    is_builtin = str(name_or_path).replace("-", "_") in builtin_scenarios()
    label = f"scenario {str(name_or_path)!r}" if is_builtin else str(found)
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{label}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{label}: cannot read: {exc}") from None
    return data, label


def load_scenario(name_or_path: str | Path = "default", overrides: dict | None = None) -> Scenario:
    """Read and build a scenario; ``overrides`` as for :func:`build_scenario`."""
    data, label = read_scenario(name_or_path)
    return build_scenario(data, source=label, overrides=overrides)


# ------------------------------------------------------------------------------------------- building


class _Where:
    """Names the origin of each value in error messages: the file and key, or the command-line option."""

    def __init__(self, source: str, options: dict[tuple[str, str], str]):
        self.source, self.options = source, options

    def __call__(self, section: str, key: str, value: Any) -> str:
        option = self.options.get((section, key))
        if option is not None:
            return f"option {option} {_show(value)}"
        where = f"[{section}] " if section else ""
        return f"{self.source}: {where}{key} = {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _table(data: Any, section: str, where: _Where) -> dict:
    if not isinstance(data, dict):
        raise InputError(f"{where.source}: [{section}] must be a table; got {_show(data)}")
    return data


def _unknown(table: dict, allowed, section: str, where: _Where) -> None:
    for key in table:
        if key not in allowed:
            option = where.options.get((section, key))
            if option is not None:  # set on the command line: name the option, not the file
                raise InputError(f"option {option} {_show(table[key])} does not apply here; [{section}] takes "
                                 f"only: {', '.join(allowed)}")
            label = f"[{section}] " if section else ""
            raise InputError(f"{where.source}: unknown key {label}{key!r} (value {_show(table[key])}); expected "
                             f"one of: {', '.join(allowed)}")


def _number(table: dict, key: str, section: str, where: _Where, *, low: float = 0.0, high: float = math.inf,
            open_low: bool = True, open_high: bool = True, integer: bool = False) -> Any:
    value = table[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        lo, hi = ("(" if open_low else "["), (")" if open_high else "]")
        kind = "an integer" if integer else "a number"
        bounds = f"{lo}{low:g}, {high:g}{hi}" if math.isfinite(high) else f"{'>' if open_low else '>='} {low:g}"
        rule = f"in {bounds}" if math.isfinite(high) else bounds
        raise InputError(f"{where(section, key, value)}: must be {kind} {rule}")
    return value


def parametric_model(*, horizon: float, control_survival: float | None = None, control_median: float | None = None,
                     treatment_survival: float | None = None, treatment_median: float | None = None,
                     hazard_ratio: float | None = None) -> DiseaseModel:
    """Two exponential arms (treatment, control) from survival at ``horizon``, medians or a hazard ratio."""
    given_c = [k for k, v in (("control_survival", control_survival), ("control_median", control_median))
               if v is not None]
    given_t = [k for k, v in (("treatment_survival", treatment_survival), ("treatment_median", treatment_median),
                              ("hazard_ratio", hazard_ratio)) if v is not None]
    if len(given_c) != 1:
        raise InputError(f"a parametric model needs exactly one of control_survival, control_median; got "
                         f"{', '.join(given_c) or 'neither'}")
    if len(given_t) != 1:
        raise InputError(f"a parametric model needs exactly one of treatment_survival, treatment_median, "
                         f"hazard_ratio; got {', '.join(given_t) or 'none'}")
    control = (ParametricArm.from_survival(control_survival, horizon) if control_survival is not None
               else ParametricArm.from_median(control_median))
    if treatment_survival is not None:
        treatment = ParametricArm.from_survival(treatment_survival, horizon)
    elif treatment_median is not None:
        treatment = ParametricArm.from_median(treatment_median)
    else:
        treatment = control.with_hazard_ratio(hazard_ratio)
    return DiseaseModel(arms=(treatment, control), arm_names=("treatment", "control"))


def _build_model(table: dict, where: _Where) -> tuple[DiseaseModel, float]:
    _unknown(table, _MODEL_KEYS, "model", where)
    kind = table.get("kind", "ctdmas")
    if kind not in ("ctdmas", "parametric"):
        raise InputError(f"{where('model', 'kind', kind)}: must be 'ctdmas' or 'parametric'")
    horizon = float(_number(table, "horizon", "model", where)) if "horizon" in table else 8.0
    if kind == "parametric":
        for key in ("ruxolitinib", "control", "baseline"):
            if key in table:
                raise InputError(f"{where.source}: [model] {key!r} applies to kind = 'ctdmas' only")
        values = {}
        for key in _PARAMETRIC_KEYS:
            if key in table:
                survival = key.endswith("_survival")
                values[key] = float(_number(table, key, "model", where, high=1.0 if survival else math.inf))
        try:
            return parametric_model(horizon=horizon, **values), horizon
        except (InputError, ValueError) as exc:
            raise InputError(f"{where.source}: [model] {exc}") from None
    for key in _PARAMETRIC_KEYS:
        if key in table:
            raise InputError(f"{where('model', key, table[key])}: applies to kind = 'parametric' only")
    from .model import default_model

    model = default_model(horizon)
    arms = list(model.arms)
    for index, arm_name in enumerate(model.arm_names):
        if arm_name not in table:
            continue
        parts = _table(table[arm_name], f"model.{arm_name}", where)
        _unknown(parts, tuple(_ARM_PARTS), f"model.{arm_name}", where)
        changes = {}
        for part, cls in _ARM_PARTS.items():
            if part in parts:
                section = f"model.{arm_name}.{part}"
                values = _table(parts[part], section, where)
                _unknown(values, tuple(f.name for f in fields(cls)), section, where)
                try:
                    changes[part] = replace(getattr(arms[index], part), **values)
                except (ValueError, TypeError) as exc:
                    raise InputError(f"{where.source}: [{section}] {exc}") from None
        arms[index] = replace(arms[index], **changes)
    baseline = model.baseline
    if "baseline" in table:
        values = _table(table["baseline"], "model.baseline", where)
        _unknown(values, tuple(f.name for f in fields(BaselineMix)), "model.baseline", where)
        try:
            baseline = replace(baseline, **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
        except (ValueError, TypeError) as exc:
            raise InputError(f"{where.source}: [model.baseline] {exc}") from None
    return replace(model, arms=tuple(arms), baseline=baseline), horizon


_FIELD = re.compile(r"`\w+\.(\w+)`")


def _build_trial(table: dict, horizon: float, where: _Where) -> Trial:
    _unknown(table, _TRIAL_KEYS, "trial", where)
    values: dict[str, Any] = {k: v for k, v in table.items() if k not in ("accrual_rate", "dropout_hazard")}
    if "n" not in values:
        raise InputError(f"{where.source}: [trial] n is required")
    if isinstance(values.get("allocation"), list):
        values["allocation"] = tuple(values["allocation"])
    allocation = values.get("allocation", (1, 1))
    n_arms = len(allocation) if isinstance(allocation, tuple) else 2
    values.setdefault("follow_up", horizon)
    if "accrual_rate" in table:
        values["accrual"] = Accrual(kind="poisson", rate=float(_number(table, "accrual_rate", "trial", where)))
    if "dropout_hazard" in table:
        dropout = table["dropout_hazard"]
        if isinstance(dropout, list):
            values["dropout_hazard"] = tuple(dropout)
        else:
            _number(table, "dropout_hazard", "trial", where, open_low=False)
            values["dropout_hazard"] = (float(dropout),) * n_arms
    else:
        values["dropout_hazard"] = (0.0,) * n_arms
    try:
        return Trial(**values)
    except (ValueError, TypeError) as exc:
        match = _FIELD.search(str(exc))
        key = match.group(1) if match else None
        if key in table:
            raise InputError(f"{where('trial', key, table[key])}: {exc}") from None
        raise InputError(f"{where.source}: [trial] {exc}") from None


def _build_design(table: dict, horizon_given: bool, where: _Where) -> Design:
    kind = table.get("kind", "two_arm")
    if kind not in _DESIGNS:
        raise InputError(f"{where('design', 'kind', kind)}: must be one of {', '.join(_DESIGNS)}")
    cls = _DESIGNS[kind]
    allowed = ("kind", *(f.name for f in fields(cls)))
    _unknown(table, allowed, "design", where)
    values = {k: v for k, v in table.items() if k != "kind"}
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        match = _FIELD.search(str(exc))
        key = match.group(1) if match else None
        if key in table:
            raise InputError(f"{where('design', key, table[key])}: {exc}") from None
        raise InputError(f"{where.source}: [design] {exc}") from None


def build_scenario(data: dict, *, source: str = "<scenario>", overrides: dict | None = None) -> Scenario:
    """Build a :class:`Scenario` from TOML data.

    Parameters
    ----------
    data
        Parsed TOML (``name``, ``description``, tables ``model``, ``trial``, ``design``).
    source
        Label of the file for error messages.
    overrides
        ``{(section, key): (value, option)}``: values set on the command line, applied over the file; errors
        about them name the option instead of the file. A value of ``None`` removes the key.
    """
    options: dict[tuple[str, str], str] = {}
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for (section, key), (value, option) in (overrides or {}).items():
        table = data.setdefault(section, {})
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
            options[(section, key)] = option
    where = _Where(source, options)
    _unknown(data, _TOP_KEYS, "", where)
    model_table = _table(data.get("model", {}), "model", where)
    _unknown(model_table, _MODEL_KEYS, "model", where)
    horizon = float(_number(model_table, "horizon", "model", where)) if "horizon" in model_table else 8.0
    # Trial and design first: they are cheap to check, while the calibrated model takes a moment to build
    trial = _build_trial(_table(data.get("trial", {}), "trial", where), horizon, where)
    design_table = _table(data.get("design", {}), "design", where)
    design = _build_design(design_table, "horizon" in design_table, where)
    model, _ = _build_model(model_table, where)
    try:
        design.simulated_trials(model, trial)  # cross-checks: arms, horizon within follow-up, response visits
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return Scenario(name=str(data.get("name", source)), description=str(data.get("description", "")), model=model,
                    trial=trial, design=design, source=source)
