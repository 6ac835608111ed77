"""The engines layer: the seed tree, the batch contract, enrolment, and the two simulators.

- :mod:`~trialsim.engines.seeding`: one seed fixes every number (chunks, component streams, patient-by-patient
  draws, the response process's jump pools);
- :mod:`~trialsim.engines.batch`: :class:`TrialBatch`, what both engines return (replicates first);
- :mod:`~trialsim.engines.enrolment`: baseline covariates, permuted-block randomisation and accrual, for both;
- :mod:`~trialsim.engines.des`: the discrete-event engine (simpy; the reference);
- :mod:`~trialsim.engines.vectorized`: the vectorised engine (numpy; the fast path), with
  :mod:`~trialsim.engines.paths` for the jump-by-jump response paths;
- :mod:`~trialsim.engines.summary`: the per-arm summary of a batch.

The two engines are imported as modules (``from trialsim.engines import des, vectorized``); importing this
package alone loads neither (nor simpy).
"""

from .batch import CENSOR_REASONS, DATA_CUT, DIED, END_OF_FOLLOW_UP, LOST, NOT_OBSERVED, TrialBatch
from .seeding import CHUNK_SIZE, Seed, chunk_bounds, chunk_streams, root_sequence, seed_record
from .summary import batch_summary

__all__ = ["TrialBatch", "CENSOR_REASONS", "DIED", "END_OF_FOLLOW_UP", "LOST", "DATA_CUT", "NOT_OBSERVED",
           "CHUNK_SIZE", "Seed", "chunk_bounds", "chunk_streams", "root_sequence", "seed_record", "batch_summary"]
