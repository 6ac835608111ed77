"""Settings for the whole suite.

Hypothesis runs with the profile ``suite`` unless ``HYPOTHESIS_PROFILE`` names another:

- no deadline: Hypothesis's default fails an example that takes over 200 ms of wall-clock time, which makes a
  pass depend on the machine's load (two CI cores shared with pytest-xdist workers);
- derandomised, without the example database: each test's examples are a function of the test alone (and
  the Hypothesis version), so a run gives the same examples on every machine, in any order and under any
  pytest-xdist scheduling, and a Monte Carlo bound checked inside a property fails only if the code changes.
  A failure reproduces by running the test again.

``HYPOTHESIS_PROFILE=explore python -m pytest`` draws fresh random examples (still without a deadline) to look
for new counter-examples.
"""

import os

from hypothesis import settings

settings.register_profile("suite", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
