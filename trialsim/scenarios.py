"""Scenarios: TOML files that name a model, a trial and a design.

A scenario file has three tables (see ``scenarios/default.toml``, the commented template)::

    name = "default"
    description = "..."
    [model]   kind = "ctdmas" | "parametric", horizon, and for parametric arms control_survival |
              control_median, and treatment_survival | treatment_median | hazard_ratio; for ctdmas,
              optional tables [model.ruxolitinib.response] (.taper, .infection), [model.control.*] and
              [model.baseline] that override fields of the calibrated model
    [trial]   n, allocation, stratified, block_size, follow_up, dropout_hazard, accrual_rate, analysis,
              analysis_time, target_events, max_duration
    [design]  kind = "two_arm" | "single_arm" | "historical_control", and the fields of that design class; the
              looks (looks, look_times, spending, futility, binding, calibrate_boundaries, design_power:
              trialsim.design.sequential.SCENARIO_KEYS);
              decision = "bayes" makes a two_arm or single_arm design a Bayesian rule
              (:mod:`trialsim.design.bayes_design`: threshold, analysis_prior, margin, borrow, a0, ...)

Built-in scenarios are found by name (``default``, ``parametric``, ``single_arm_rate``, ``historical_arm``);
anything else is read as a path. Every error is one line in the one format (:mod:`trialsim.exceptions`), naming
the file and the key (``study.toml: [trial] n must be ...``) or the command-line option that set the value. Values
are checked by the model's own validation (strictly: ``stratified = "false"`` is not a boolean, ``sided = 2.0`` not
an integer), and a value from a file that is not a valid scenario is never echoed at length. This module is the
only reader of scenario files (tomllib).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .design.bayes_design import BAYES_DESIGNS
from .design.rules import Design, HistoricalControlDesign, SingleArmDesign, TwoArmDesign, read_at
from .design.sequential import SCENARIO_KEYS, SequentialDesign, with_looks
from .exceptions import SHOWN, SHOWN_FROM_FILE, SHOWN_PATH, InputError, invalid
from .model import Accrual, BaselineMix, DiseaseModel, Infection, ParametricArm, ResponseProcess, Taper, Trial
from .model.validation import (LIMITS, MAX_BLOCK_SIZE, MAX_N, check_in_range, check_nonnegative, check_positive,
                               is_number)

__all__ = ["Scenario", "load_scenario", "read_scenario", "build_scenario", "builtin_scenarios", "find_scenario",
           "parametric_model"]

_TOP_KEYS = ("name", "description", "model", "trial", "design")
_MODEL_KEYS = ("kind", "horizon", "control_survival", "treatment_survival", "control_median", "treatment_median",
               "hazard_ratio", "ruxolitinib", "control", "baseline")
_PARAMETRIC_KEYS = ("control_survival", "treatment_survival", "control_median", "treatment_median", "hazard_ratio")
_TRIAL_KEYS = ("n", "allocation", "stratified", "block_size", "follow_up", "dropout_hazard", "accrual_rate",
               "analysis", "analysis_time", "target_events", "max_duration")
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
    design: Design | SequentialDesign
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


#: Largest scenario file read (a scenario is a few dozen lines; anything this big is not one).
MAX_SCENARIO_BYTES = 1_000_000


def find_scenario(name_or_path: str | Path) -> Any:
    """The file of a built-in scenario name, or ``name_or_path`` itself when it is an existing regular file."""
    text = str(name_or_path)
    builtin = builtin_scenarios()
    if text.replace("-", "_") in builtin:  # single-arm-rate and single_arm_rate both name a built-in
        return builtin[text.replace("-", "_")]
    if not text or "\0" in text:
        raise invalid("scenario", "must be a built-in scenario or a path", text, subject="--scenario",
                      limit=SHOWN_PATH)
    path = Path(text)
    try:
        is_file, exists = path.is_file(), path.exists()
    except OSError as exc:  # a name too long, a loop of links
        raise invalid("scenario", f"must be a readable path ({exc.strerror or type(exc).__name__})", text,
                      subject="--scenario", limit=SHOWN_PATH) from None
    if is_file:
        return path
    if exists:
        raise invalid("scenario", "must be a regular file (a TOML scenario), not a directory, device or pipe", text,
                      subject="--scenario", limit=SHOWN_PATH)
    if path.suffix == ".toml" or "/" in text or "\\" in text:
        raise invalid("scenario", "must be an existing file", text, subject="--scenario", limit=SHOWN_PATH)
    raise invalid("scenario", f"must be a built-in scenario ({', '.join(builtin)}) or a .toml file", text,
                  subject="--scenario")


def read_scenario(name_or_path: str | Path) -> tuple[dict, str]:
    """(raw TOML data, label of the source for messages)."""
    found = find_scenario(name_or_path)
    is_builtin = str(name_or_path).replace("-", "_") in builtin_scenarios()
    label = f"scenario {str(name_or_path)!r}" if is_builtin else _text(str(found), limit=SHOWN_PATH)
    try:
        with found.open("rb") as fh:
            raw = fh.read(MAX_SCENARIO_BYTES + 1)
        if len(raw) > MAX_SCENARIO_BYTES:
            raise invalid("scenario", f"must be at most {MAX_SCENARIO_BYTES:,} bytes (a scenario is a few lines)",
                          "a larger file", subject=label)
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise invalid("scenario", "must be valid TOML", str(exc), subject=label) from None
    except RecursionError:
        raise invalid("scenario", "must be valid TOML of a scenario's shape (arrays or tables nested too deeply)",
                      "a deeper nesting", subject=label) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid("scenario", "must be a readable UTF-8 text file", type(exc).__name__, subject=label) from None
    return data, label


def load_scenario(name_or_path: str | Path = "default", overrides: dict | None = None) -> Scenario:
    """Read and build a scenario; ``overrides`` as for :func:`build_scenario`."""
    data, label = read_scenario(name_or_path)
    return build_scenario(data, source=label, overrides=overrides)


# ------------------------------------------------------------------------------------------- building


class _Where:
    """Names the origin of each value in error messages: the command-line option that set it, or the file and
    the key (``study.toml: [trial] n``)."""

    def __init__(self, source: str, options: dict[tuple[str, str], str]) -> None:
        self.source, self.options = source, options

    def __call__(self, section: str, key: str | None = None) -> str:
        option = self.options.get((section, key)) if key is not None else None
        if option is not None:
            return option
        # a key is the file's text too: shown escaped and cut (a file that is not a scenario may hold anything)
        shown = _text(key, limit=32) if key else ""
        place = " ".join(part for part in (f"[{_text(section, limit=64)}]" if section else "", shown) if part)
        return f"{self.source}: {place}" if place else self.source

    def error(self, exc: InputError, section: str, table: dict) -> InputError:
        """``exc`` (raised by a dataclass or a design) named after the key of ``section`` that set the value; a
        value from the file is shown only in part."""
        key = exc.key if exc.key in table else None
        from_file = (section, key) not in self.options
        return exc.about(self(section, key), limit=SHOWN_FROM_FILE if from_file else SHOWN)


class _Hidden:
    """A value an error message names only by its kind (``a str``), not by its content."""

    def __init__(self, value: Any) -> None:
        self.kind = type(value).__name__

    def __repr__(self) -> str:
        return f"{'an' if self.kind[:1] in 'aeiou' else 'a'} {self.kind}"


def _table(data: Any, section: str, where: _Where) -> dict:
    if not isinstance(data, dict):
        raise invalid(section, "must be a table", _Hidden(data), subject=where(section))
    return data


#: Keys a user may expect from the command line's options, with how a file says the same thing instead.
_NOT_A_KEY = {("trial", "accrual"): "is not a key of [trial]: accrual_rate gives Poisson accrual at that rate, and "
                                    "without it everyone is enrolled at once (instant)"}


def _unknown(table: dict, allowed: tuple[str, ...], section: str, where: _Where) -> None:
    for key in table:
        if key not in allowed:
            option = where.options.get((section, key))
            if option is not None:  # set on the command line: name the option, not the file
                raise invalid(key, f"does not apply here ([{section}] takes only {', '.join(allowed)})",
                              table[key], subject=option)
            # the key and the kind of its value, never the value: a file that is not a scenario may hold anything
            rule = _NOT_A_KEY.get((section, key)) or \
                f"is not a key of {f'[{section}]' if section else 'a scenario'} (it takes {', '.join(allowed)})"
            raise invalid(key, rule, _Hidden(table[key]), subject=where(section, key))


def _number(table: dict, key: str, section: str, where: _Where, *, high: float = math.inf,
            zero: bool = False) -> float:
    """A number > 0 (>= 0 with ``zero``; at most ``high``) at ``table[key]``, named after its key or option."""
    try:
        value = check_nonnegative(key, table[key]) if zero else check_positive(key, table[key])
        if value > high:
            raise invalid(key, f"must be a number in (0, {high:g}]", table[key])
        return value
    except InputError as exc:
        raise where.error(exc, section, table) from None


def parametric_model(*, horizon: float, control_survival: float | None = None, control_median: float | None = None,
                     treatment_survival: float | None = None, treatment_median: float | None = None,
                     hazard_ratio: float | None = None) -> DiseaseModel:
    """Two exponential arms (treatment, control) from survival at ``horizon``, medians or a hazard ratio."""
    given_c = [k for k, v in (("control_survival", control_survival), ("control_median", control_median))
               if v is not None]
    given_t = [k for k, v in (("treatment_survival", treatment_survival), ("treatment_median", treatment_median),
                              ("hazard_ratio", hazard_ratio)) if v is not None]
    if len(given_c) != 1:
        raise invalid("model", "needs exactly one of control_survival, control_median",
                      ", ".join(given_c) or "neither")
    if len(given_t) != 1:
        raise invalid("model", "needs exactly one of treatment_survival, treatment_median, hazard_ratio",
                      ", ".join(given_t) or "none")
    if control_survival is not None:
        control = ParametricArm.from_survival(control_survival, horizon)
    elif control_median is not None:
        control = ParametricArm.from_median(control_median)
    if treatment_survival is not None:
        treatment = ParametricArm.from_survival(treatment_survival, horizon)
    elif treatment_median is not None:
        treatment = ParametricArm.from_median(treatment_median)
    elif hazard_ratio is not None:
        treatment = control.with_hazard_ratio(hazard_ratio)
    # Where an arm's survival at the horizon is 0 or 1 to the precision of a float, no test (and no formula)
    # has anything to work on: refuse, naming the key that set the arm
    survival = LIMITS["survival"]
    given = {"control_survival": control_survival, "control_median": control_median,
             "treatment_survival": treatment_survival, "treatment_median": treatment_median,
             "hazard_ratio": hazard_ratio}
    for arm, name, key in ((control, "control", given_c[0]), (treatment, "treatment", given_t[0])):
        at_horizon = float(math.exp(-arm.hazards[0] * horizon)) if arm.hazards[0] * horizon < 745 else 0.0
        if at_horizon not in survival:
            raise invalid(key, f"must give the {name} arm a survival at the horizon (week {horizon:g}) in "
                          f"[{survival.low:g}, {survival.high:g}]; it gives {at_horizon:.3g}",
                          given[key])
    return DiseaseModel(arms=(treatment, control), arm_names=("treatment", "control"))


def _build_model(table: dict, where: _Where) -> tuple[DiseaseModel, float]:
    _unknown(table, _MODEL_KEYS, "model", where)
    kind = table.get("kind", "ctdmas")
    if kind not in ("ctdmas", "parametric"):
        raise where.error(invalid("kind", "must be 'ctdmas' or 'parametric'", kind), "model", table)
    horizon = _number(table, "horizon", "model", where) if "horizon" in table else 8.0
    _in_range(table, "horizon", "model", where, "weeks" if kind == "parametric" else "ctdmas_horizon")
    if kind == "parametric":
        for key in ("ruxolitinib", "control", "baseline"):
            if key in table:
                raise invalid(key, "applies to kind = 'ctdmas' only", key, subject=where("model"))
        values = {key: _number(table, key, "model", where, high=1.0 if key.endswith("_survival") else math.inf)
                  for key in _PARAMETRIC_KEYS if key in table}
        try:
            return parametric_model(horizon=horizon, **values), horizon
        except InputError as exc:
            raise where.error(exc, "model", table) from None
    for key in _PARAMETRIC_KEYS:
        if key in table:
            raise where.error(invalid(key, "applies to kind = 'parametric' only", table[key]), "model", table)
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
                except InputError as exc:
                    raise where.error(exc, section, values) from None
        arms[index] = replace(arms[index], **changes)
    baseline = model.baseline
    if "baseline" in table:
        values = _table(table["baseline"], "model.baseline", where)
        _unknown(values, tuple(f.name for f in fields(BaselineMix)), "model.baseline", where)
        try:
            baseline = replace(baseline, **values)  # type: ignore[arg-type]  # checked by BaselineMix itself
        except InputError as exc:
            raise where.error(exc, "model.baseline", values) from None
    return replace(model, arms=tuple(arms), baseline=baseline), horizon


def _build_trial(table: dict, horizon: float, where: _Where) -> Trial:
    _unknown(table, _TRIAL_KEYS, "trial", where)
    values: dict[str, Any] = {k: v for k, v in table.items() if k not in ("accrual_rate", "dropout_hazard")}
    if "n" not in values:
        raise invalid("n", "is required", None, subject=where("trial", "n"))
    allocation = values.get("allocation", (1, 1))
    n_arms = len(allocation) if isinstance(allocation, (list, tuple)) else 2
    values.setdefault("follow_up", horizon)
    if "accrual_rate" in table:
        values["accrual"] = Accrual(kind="poisson", rate=_number(table, "accrual_rate", "trial", where))
    dropout = table.get("dropout_hazard", 0.0)
    if isinstance(dropout, list):
        values["dropout_hazard"] = tuple(dropout)
    else:
        values["dropout_hazard"] = (_number(table, "dropout_hazard", "trial", where, zero=True),) * n_arms \
            if "dropout_hazard" in table else (0.0,) * n_arms
    try:
        return Trial(**values)
    except InputError as exc:
        option = where.options.get(("trial", "allocation"))
        if exc.field == "Trial.n" and option is not None and ("trial", "n") not in where.options:
            # the option's allocation does not divide the scenario's n: name the option, and say where n came from
            ratio = ":".join(str(a) for a in allocation)
            raise invalid("allocation", f"needs n a multiple of {sum(allocation)}; n is {values['n']} "
                          f"({where('trial', 'n')}): give --n too", ratio, subject=option) from None
        raise where.error(exc, "trial", table) from None


def _build_design(table: dict, where: _Where) -> Design:
    kind = table.get("kind", "two_arm")
    if not isinstance(kind, str) or kind not in _DESIGNS:  # a list or a table is no kind (nor hashable)
        raise where.error(invalid("kind", f"must be one of {', '.join(_DESIGNS)}", kind), "design", table)
    decision = table.get("decision", "frequentist")
    if decision not in ("frequentist", "bayes"):
        raise where.error(invalid("decision", "must be 'frequentist' or 'bayes'", decision), "design", table)
    if decision == "bayes" and kind not in BAYES_DESIGNS:
        raise where.error(invalid("decision", f"'bayes' applies to kind {' or '.join(BAYES_DESIGNS)}", kind),
                          "design", table)
    cls = BAYES_DESIGNS[kind] if decision == "bayes" else _DESIGNS[kind]
    allowed = ("kind", "decision", *(f.name for f in fields(cls)))
    _unknown(table, allowed, "design", where)
    try:
        return cls(**{k: v for k, v in table.items() if k not in ("kind", "decision")})
    except InputError as exc:
        raise where.error(exc, "design", table) from None


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

    Raises
    ------
    InputError
        Naming the file and the key, or the option, the rule and the value.
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
    _check_limits(data, where)
    model_table = _table(data.get("model", {}), "model", where)
    _unknown(model_table, _MODEL_KEYS, "model", where)
    horizon = _number(model_table, "horizon", "model", where) if "horizon" in model_table else 8.0
    # Trial and design first: they are cheap to check, while the calibrated model takes a moment to build
    trial_table = _table(data.get("trial", {}), "trial", where)
    trial = _build_trial(trial_table, horizon, where)
    design_table = _table(data.get("design", {}), "design", where)
    looks = {k: v for k, v in design_table.items() if k in SCENARIO_KEYS}  # the looks: design.sequential
    rule = _build_design({k: v for k, v in design_table.items() if k not in SCENARIO_KEYS}, where)
    model, _ = _build_model(model_table, where)
    try:
        # binary endpoints are read at the horizon when the follow-up is longer (the log-rank uses it all)
        design = with_looks(read_at(rule, trial, horizon), model, looks)
        design.simulated_trials(model, trial)  # cross-checks: arms, horizon within follow-up, response visits
    except InputError as exc:
        section = "trial" if exc.field and exc.field.startswith("Trial.") else "design"
        raise where.error(exc, section, trial_table if section == "trial" else design_table) from None
    return Scenario(name=_text(data.get("name", source)), description=_text(data.get("description", "")),
                    model=model, trial=trial, design=design, source=source)


def _text(value: Any, *, limit: int = 200) -> str:
    """A scenario's name or description (or a file's path) as printed: one line, every character that does not
    print (control characters, line and paragraph separators, bidirectional overrides) escaped, at most ``limit``
    characters."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value))
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: Keys whose numbers must lie in a documented range (:data:`trialsim.model.validation.LIMITS`; docs/cli.md,
#: "Limits"); the model's horizon depends on the kind of model (checked in _build_model).
_RANGES = {("model", "control_survival"): "survival", ("model", "treatment_survival"): "survival",
           ("model", "control_median"): "median", ("model", "treatment_median"): "median",
           ("model", "hazard_ratio"): "hazard_ratio", ("trial", "follow_up"): "weeks",
           ("trial", "analysis_time"): "calendar", ("trial", "accrual_rate"): "accrual_rate",
           ("trial", "dropout_hazard"): "dropout", ("design", "null_survival"): "survival",
           ("design", "horizon"): "weeks"}
#: Keys whose integers have a largest value.
_MAXIMA = {("trial", "n"): MAX_N, ("trial", "block_size"): MAX_BLOCK_SIZE, ("trial", "target_events"): MAX_N,
           ("design", "n_historical"): MAX_N}


def _in_range(table: dict, key: str, section: str, where: _Where, kind: str) -> None:
    """``table[key]`` (each element of a list) within the range of ``kind``; values of the wrong type are left to
    the model's own check, which names the type."""
    if key not in table:
        return
    values = table[key] if isinstance(table[key], list) else [table[key]]
    for value in values:
        if is_number(value) and value > 0:  # 0 and below: the model's own check names its sign
            try:
                check_in_range(key, value, kind)
            except InputError as exc:
                raise where.error(exc, section, table) from None


def _check_limits(data: dict, where: _Where) -> None:
    """The documented ranges and largest counts, and keys that contradict each other, before anything is built."""
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise invalid(key, "must be a string", _Hidden(data[key]), subject=where("", key))
    for (section, key), kind in _RANGES.items():
        table = data.get(section)
        if isinstance(table, dict):
            _in_range(table, key, section, where, kind)
    for (section, key), maximum in _MAXIMA.items():
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), int) and not isinstance(table[key], bool) \
                and table[key] > maximum:
            raise where.error(invalid(key, f"must be at most {maximum:,}", table[key]), section, table)
    trial = data.get("trial")
    if isinstance(trial, dict):
        allocation = trial.get("allocation")
        if isinstance(allocation, list) and any(isinstance(a, int) and a > 1000 for a in allocation):
            raise where.error(invalid("allocation", "must hold integers of at most 1000", allocation), "trial", trial)
        analysis = trial.get("analysis", "complete")
        for key, needs in (("analysis_time", "calendar"), ("target_events", "events")):
            if key in trial and analysis in ("complete", "calendar", "events") and analysis != needs:
                raise invalid(key, f"and analysis = {analysis!r} exclude each other ({key} needs analysis = "
                              f"{needs!r})", trial[key] if is_number(trial[key]) else _Hidden(trial[key]),
                              subject=where("trial", key))
