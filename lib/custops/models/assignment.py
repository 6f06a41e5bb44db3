"""Contact assignment: whom to contact by which channel under budget and capacity.

Pure functions on NumPy arrays and pandas frames; no I/O, no plotting.

Contact assignment
------------------
``optimize_assignment`` chooses for every customer *i* at most one eligible channel *c* so as to

    maximize   sum_ic gain[i, c] * x[i, c]
    subject to sum_c x[i, c] <= 1                      (one contact per customer)
               sum_ic cost[i, c] * x[i, c] <= budget   (spend)
               sum_i x[i, c] <= capacity[c]            (per-channel contacts)
               x[i, c] = 0 where not eligible,  x binary.

``gain`` is the expected *incremental* value of the contact **net of its cost**, so a contact is
only ever worth making when its gain is positive; ``cost`` only enters the budget. Methods:

* ``"milp"`` -- exact, ``scipy.optimize.milp`` (HiGHS) on one binary per eligible pair with
  positive gain. Its running time grows steeply with the number of pairs once a budget row
  couples them (hence ``time_limit``).
* ``"lagrangian"`` -- for millions of customers. The budget gets a multiplier ``lambda >= 0`` and
  each capacity a multiplier ``mu[c] >= 0``; for fixed multipliers the problem splits by customer
  (each takes ``argmax_c gain - lambda * cost - mu[c]`` when that is positive) and

      D(lambda, mu) = sum_i max(0, max_c gain[i, c] - lambda * cost[i, c] - mu[c])
                      + lambda * budget + sum_c mu[c] * capacity[c]

  is an upper bound on the optimum for *any* ``lambda, mu >= 0`` (weak duality); its minimum is
  the value of the linear relaxation. ``D`` is minimized by exact coordinate steps (an exact
  line search along ``lambda`` by sorting the breakpoints of every customer's upper envelope, and
  a closed-form ``mu[c]`` = the (capacity + 1)-th largest advantage of channel *c*). Above
  20,000 customers the multipliers are first estimated on a systematic sample ten times
  smaller (recursively), then refined on the customers whose choice can still change inside a
  box around the estimate (the others enter as constants), enlarging the box until the
  solution lies inside it. The plan read off the multipliers is repaired (drop the lowest
  gain-per-cost contacts until every constraint holds) and then greedily topped up.
  ``upper_bound`` is ``D`` at the final multipliers and
  ``gap = (upper_bound - objective) / |upper_bound|`` bounds how far the plan is from optimal
  (the repair costs a few customers' gain, so the gap shrinks like 1/n with the number of
  customers).
* ``"auto"`` -- the Lagrangian plan when its gap is within ``tol``; otherwise, for up to
  20,000 pairs, also the MILP (within ``time_limit``), keeping the better plan.

Constraints hold exactly for counts and up to a relative ``1e-9`` for the budget (floating-point
sums).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from custops.errors import DataError, ParameterError

__all__ = [
    "AssignmentResult",
    "OptimizeDataError",
    "OptimizeParameterError",
    "budget_curve",
    "optimize_assignment",
]

# "auto" tries the exact MILP (when the Lagrangian plan is not provably within tol) only up to
# this many eligible positive-gain pairs: with a budget row the MILP's time grows steeply with
# the pairs, while the Lagrangian gap (shrinking like 1/n) is already small at this size.
_MILP_MAX_PAIRS = 20_000
# Below this many customers the Lagrangian dual is minimized on all of them directly.
_DIRECT_MAX_CUSTOMERS = 20_000
# Larger instances start from the multipliers of a systematic sample this many times smaller
# (solved the same way, so 1M customers go 20k -> 100k -> 1M).
_SAMPLE_RATIO = 10
# Share (and minimum number) of customers refined around the warm start.
_ACTIVE_SET_SHARE = 0.05
_ACTIVE_SET_MIN = 5_000
_ACTIVE_SET_ROUNDS = 8
_MAX_DESCENT_CYCLES = 500
_FILL_ROUNDS = 20
# Budget feasibility is checked up to this relative slack (floating-point sums of costs).
_BUDGET_RTOL = 1e-9
_TINY = 1e-12


class OptimizeDataError(DataError, ValueError):
    """Gains, costs, eligibility or campaign results cannot be used as given."""


class OptimizeParameterError(ParameterError, ValueError):
    """A budget, capacity, share or test setting is out of range."""


# --------------------------------------------------------------------------------------------
# Contact assignment
# --------------------------------------------------------------------------------------------


@dataclass
class AssignmentResult:
    """A contact plan and how good it provably is.

    Attributes
    ----------
    channel : numpy.ndarray of int, shape (n_customers,)
        Chosen channel index per customer, ``-1`` for no contact.
    objective : float
        Total gain (incremental value net of contact cost) of the plan.
    spend : float
        Total contact cost of the plan.
    counts : numpy.ndarray of int, shape (n_channels,)
        Contacts per channel.
    upper_bound : float
        A proven upper bound on the best achievable objective (Lagrangian dual value, or the
        MILP solver's dual bound).
    gap : float
        ``(upper_bound - objective) / max(|upper_bound|, 1e-12)``; 0 means provably optimal.
    method : str
        ``"milp"`` or ``"lagrangian"`` (what ``"auto"`` resolved to).
    multipliers : dict
        Lagrangian method: ``{"budget": lambda, "capacity": mu}`` (``mu`` one per channel), the
        shadow prices of one more unit of budget and one more contact per channel. Empty for MILP.
    """

    channel: np.ndarray
    objective: float
    spend: float
    counts: np.ndarray
    upper_bound: float
    gap: float
    method: str
    multipliers: dict = field(default_factory=dict)

    @property
    def contacts(self) -> int:
        """Number of customers contacted."""
        return int(self.counts.sum())


@dataclass
class _Problem:
    """The candidate pairs of an assignment problem, restricted to customers with any."""

    n_customers: int
    n_channels: int
    rows: np.ndarray  # (m,) original index of every customer with at least one candidate
    gain: np.ndarray  # (m, C) gain of candidate pairs, -inf elsewhere
    cost: np.ndarray  # (C,) per channel, or (m, C) per pair (0 where not a candidate)
    budget: float
    capacity: np.ndarray  # (C,) float, inf when unlimited
    n_pairs: int

    def cost_at(self, rows: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """Cost of the given (row, channel) pairs."""
        return _pair_cost(self.cost, rows, channels)

    def subset(self, rows: np.ndarray) -> _Problem:
        cost = self.cost[rows] if self.cost.ndim == 2 else self.cost
        return replace(self, rows=self.rows[rows], gain=self.gain[rows], cost=cost)

    def budget_is_binding(self) -> bool:
        """Whether the budget can be exceeded at all (else its multiplier is 0)."""
        if not np.isfinite(self.budget):
            return False
        return bool(_most_expensive_option(self.gain, self.cost).sum() > self.budget)

    def binding_channels(self) -> np.ndarray:
        """Channels whose capacity is below the number of customers who could use them."""
        candidates_per_channel = np.isfinite(self.gain).sum(axis=0)
        return np.flatnonzero(np.isfinite(self.capacity) & (self.capacity < candidates_per_channel))


def _pair_cost(cost: np.ndarray, rows: np.ndarray, channels: np.ndarray) -> np.ndarray:
    return cost[rows, channels] if cost.ndim == 2 else cost[channels]


def _most_expensive_option(gain: np.ndarray, cost: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(gain), cost, 0.0).max(axis=1, initial=0.0)


def _prepare(
    gain: ArrayLike,
    cost: ArrayLike,
    eligible: ArrayLike,
    budget: float,
    capacity: ArrayLike | None,
) -> _Problem:
    """Validate the inputs and keep only eligible positive-gain pairs."""
    gain = np.asarray(gain, dtype=np.float64)
    if gain.ndim != 2:
        raise OptimizeDataError(
            f"`gain` must be a 2-D array (customers x channels); got shape {gain.shape}."
        )
    n_customers, n_channels = gain.shape
    eligible = np.asarray(eligible)
    if eligible.shape != gain.shape:
        raise OptimizeDataError(
            f"`eligible` must have the shape of `gain` {gain.shape}; got {eligible.shape}."
        )
    if eligible.dtype != bool:
        if not (np.issubdtype(eligible.dtype, np.integer) and np.isin(eligible, (0, 1)).all()):
            raise OptimizeDataError("`eligible` must be boolean (True = may be contacted).")
        eligible = eligible.astype(bool)
    bad_gain = eligible & ~np.isfinite(gain)
    if bad_gain.any():
        rows = np.unique(np.nonzero(bad_gain)[0])[:5].tolist()
        raise OptimizeDataError(
            f"`gain` is missing or infinite for {int(bad_gain.sum())} eligible pair(s), e.g. "
            f"customers at rows {rows}. Fill it or mark those pairs ineligible."
        )
    cost = np.asarray(cost, dtype=np.float64)
    if cost.shape not in ((n_channels,), gain.shape):
        raise OptimizeDataError(
            f"`cost` must have shape ({n_channels},) (per channel) or {gain.shape} (per pair); "
            f"got {cost.shape}."
        )
    candidate = eligible & (gain > 0)
    relevant_cost = cost[candidate] if cost.ndim == 2 else cost
    if not (np.isfinite(relevant_cost).all() and (relevant_cost >= 0).all()):
        raise OptimizeDataError("`cost` must be finite and >= 0 for every eligible channel.")
    budget = float(budget)
    if math.isnan(budget) or budget < 0:
        raise OptimizeParameterError(f"`budget` must be >= 0 (or inf); got {budget}.")
    capacity_array = _as_capacity(capacity, n_channels)

    rows = np.flatnonzero(candidate.any(axis=1))
    candidate_rows = candidate[rows]
    problem_gain = np.where(candidate_rows, gain[rows], -np.inf)
    problem_cost = np.where(candidate_rows, cost[rows], 0.0) if cost.ndim == 2 else cost.copy()
    return _Problem(
        n_customers=n_customers,
        n_channels=n_channels,
        rows=rows,
        gain=problem_gain,
        cost=problem_cost,
        budget=budget,
        capacity=capacity_array,
        n_pairs=int(candidate_rows.sum()),
    )


def _as_capacity(capacity: ArrayLike | None, n_channels: int) -> np.ndarray:
    if capacity is None:
        return np.full(n_channels, np.inf)
    values = [np.inf if value is None else value for value in np.ravel(capacity).tolist()]
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n_channels,):
        raise OptimizeParameterError(
            f"`capacity` must give one value per channel ({n_channels}); got {array.shape[0]}."
        )
    if np.isnan(array).any() or (array < 0).any():
        raise OptimizeParameterError(
            f"`capacity` must be >= 0 (inf or None = unlimited); got {array.tolist()}."
        )
    return np.floor(array)


def optimize_assignment(
    gain: ArrayLike,
    cost: ArrayLike,
    eligible: ArrayLike,
    *,
    budget: float,
    capacity: ArrayLike | None = None,
    method: str = "auto",
    tol: float = 1e-6,
    time_limit: float = 10.0,
) -> AssignmentResult:
    """Choose at most one channel per customer to maximize total gain within budget and capacity.

    Parameters
    ----------
    gain : array_like of float, shape (n_customers, n_channels)
        Expected incremental value of contacting customer *i* by channel *c*, **net of the
        contact cost** (may be negative; negative and zero gains are never contacted). Values at
        ineligible pairs are ignored (may be NaN).
    cost : array_like of float, shape (n_channels,) or (n_customers, n_channels)
        Contact cost, ``>= 0``; counted against ``budget``.
    eligible : array_like of bool, shape (n_customers, n_channels)
        Whether the pair may be used at all: consent, frequency caps, quiet hours and channel
        rules already folded in by the caller.
    budget : float
        Total spend cap, ``>= 0``; ``numpy.inf`` for none.
    capacity : array_like, shape (n_channels,), optional
        Maximum contacts per channel (``inf`` / ``None`` entries = unlimited).
    method : {"auto", "milp", "lagrangian"}
        ``"auto"`` solves with the Lagrangian method and keeps that plan when its proven gap is
        at most ``tol``; otherwise, with at most 20,000 eligible positive-gain pairs, it also
        runs the MILP and returns the better plan with the tighter bound. ``"milp"`` always
        runs the MILP (falling back to the Lagrangian plan, with a warning, if HiGHS finds no
        plan within ``time_limit``); ``"lagrangian"`` never does.
    tol : float
        Relative optimality tolerance: the MILP's relative gap; for the Lagrangian method the
        relative improvement of the dual below which its coordinate descent stops.
    time_limit : float
        Seconds the MILP solver may run; it then returns its best plan and bound so far.

    Returns
    -------
    AssignmentResult
        The plan, its objective and spend, contacts per channel, a proven upper bound and the
        relative gap to it.

    Raises
    ------
    OptimizeDataError
        Shapes disagree, eligible gains are missing, or eligible costs are negative.
    OptimizeParameterError
        ``budget``, ``capacity``, ``method``, ``tol`` or ``time_limit`` is out of range.
    """
    if method not in ("auto", "milp", "lagrangian"):
        raise OptimizeParameterError(
            f"`method` must be 'auto', 'milp' or 'lagrangian'; got {method!r}."
        )
    if not (0 < tol < 1):
        raise OptimizeParameterError(f"`tol` must lie in (0, 1); got {tol}.")
    if not time_limit > 0:
        raise OptimizeParameterError(f"`time_limit` must be > 0 seconds; got {time_limit}.")
    problem = _prepare(gain, cost, eligible, budget, capacity)
    if method == "milp":
        exact = _solve_milp(problem, tol, time_limit)
        if exact is not None:
            return exact
        warnings.warn(
            f"the MILP solver found no plan within {time_limit} s; returning the Lagrangian "
            "plan (see its `gap`). Raise `time_limit` or use method='lagrangian'.",
            stacklevel=2,
        )
        return _solve_lagrangian(problem, tol)
    heuristic = _solve_lagrangian(problem, tol)
    if method == "lagrangian" or heuristic.gap <= tol or problem.n_pairs > _MILP_MAX_PAIRS:
        return heuristic
    exact = _solve_milp(problem, tol, time_limit)
    if exact is None:
        return heuristic
    best = exact if exact.objective >= heuristic.objective else heuristic
    upper_bound = min(exact.upper_bound, heuristic.upper_bound)
    return replace(
        best,
        upper_bound=upper_bound,
        gap=float((upper_bound - best.objective) / max(abs(upper_bound), _TINY)),
    )


def _result(
    problem: _Problem,
    choice: np.ndarray,
    upper_bound: float,
    method: str,
    multipliers: dict,
) -> AssignmentResult:
    """Package a plan over the candidate customers as an AssignmentResult."""
    contacted = np.flatnonzero(choice >= 0)
    objective = float(problem.gain[contacted, choice[contacted]].sum())
    spend = float(problem.cost_at(contacted, choice[contacted]).sum())
    # The dual bound equals the objective up to round-off when the plan is optimal.
    if upper_bound < objective and upper_bound >= objective - 1e-9 * max(1.0, abs(objective)):
        upper_bound = objective
    channel = np.full(problem.n_customers, -1, dtype=np.int64)
    channel[problem.rows] = choice
    return AssignmentResult(
        channel=channel,
        objective=objective,
        spend=spend,
        counts=np.bincount(choice[contacted], minlength=problem.n_channels).astype(np.int64),
        upper_bound=float(upper_bound),
        gap=float((upper_bound - objective) / max(abs(upper_bound), _TINY)),
        method=method,
        multipliers=multipliers,
    )


def _solve_milp(problem: _Problem, tol: float, time_limit: float) -> AssignmentResult | None:
    """Exact assignment with scipy.optimize.milp: one binary per candidate pair.

    Returns None when HiGHS stops (time limit) without any feasible plan.
    """
    from scipy import optimize, sparse  # noqa: PLC0415 - ~0.6 s of CPU to import: on first use

    row_of_pair, channel_of_pair = np.nonzero(np.isfinite(problem.gain))
    pair_gain = problem.gain[row_of_pair, channel_of_pair]
    pair_cost = problem.cost_at(row_of_pair, channel_of_pair)
    n_pairs = pair_gain.size
    m = problem.gain.shape[0]
    blocks, upper = [], []
    pairs_per_row = np.bincount(row_of_pair, minlength=m)
    shared = pairs_per_row[row_of_pair] > 1  # customers with one pair need no row of their own
    if shared.any():
        customer_rows, customer_index = np.unique(row_of_pair[shared], return_inverse=True)
        blocks.append(
            sparse.csr_array(
                (np.ones(int(shared.sum())), (customer_index, np.flatnonzero(shared))),
                shape=(customer_rows.size, n_pairs),
            )
        )
        upper.append(np.ones(customer_rows.size))
    if problem.budget_is_binding():
        blocks.append(sparse.csr_array(pair_cost.reshape(1, -1)))
        upper.append([problem.budget])
    for channel in problem.binding_channels():
        in_channel = np.flatnonzero(channel_of_pair == channel)
        blocks.append(
            sparse.csr_array(
                (np.ones(in_channel.size), (np.zeros(in_channel.size, dtype=int), in_channel)),
                shape=(1, n_pairs),
            )
        )
        upper.append([problem.capacity[channel]])

    choice = np.full(m, -1, dtype=np.int64)
    if n_pairs == 0:
        return _result(problem, choice, 0.0, "milp", {})
    constraints = None
    if blocks:
        matrix = sparse.vstack(blocks, format="csr")
        constraints = optimize.LinearConstraint(matrix, -np.inf, np.concatenate(upper))
    solution = optimize.milp(
        -pair_gain,
        integrality=np.ones(n_pairs),
        bounds=optimize.Bounds(0.0, 1.0),
        constraints=constraints,
        options={"mip_rel_gap": tol, "disp": False, "time_limit": float(time_limit)},
    )
    if solution.x is None:
        return None
    chosen = solution.x > 0.5
    choice[row_of_pair[chosen]] = channel_of_pair[chosen]
    choice = _repair_and_fill(problem, choice)
    dual_bound = getattr(solution, "mip_dual_bound", None)
    upper_bound = -float(dual_bound) if dual_bound is not None and np.isfinite(dual_bound) else None
    result = _result(problem, choice, np.inf if upper_bound is None else upper_bound, "milp", {})
    if upper_bound is None:
        result.upper_bound = result.objective
        result.gap = 0.0
    return result


# ---- Lagrangian dual ------------------------------------------------------------------------


def _solve_lagrangian(
    problem: _Problem, tol: float, start: np.ndarray | None = None
) -> AssignmentResult:
    """Minimize the Lagrangian dual, read off a plan, repair it and report the dual bound."""
    multipliers = _minimize_dual(problem, tol, start)
    choice, dual_value = _plan_at(problem, multipliers)
    choice = _repair_and_fill(problem, choice)
    return _result(
        problem,
        choice,
        dual_value,
        "lagrangian",
        {"budget": float(multipliers[0]), "capacity": multipliers[1:].copy()},
    )


def _reduced_gain(gain: np.ndarray, cost: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """gain - lambda * cost - mu, the value of each pair once the constraints are priced."""
    return gain - (multipliers[0] * cost + multipliers[1:])


def _plan_at(problem: _Problem, multipliers: np.ndarray) -> tuple[np.ndarray, float]:
    """Each customer's best priced option, and the dual value D at these multipliers."""
    choice, best = _best_options(_reduced_gain(problem.gain, problem.cost, multipliers))
    return choice, _dual_value(best, problem.budget, problem.capacity, multipliers)


def _best_options(reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if reduced.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    best_channel = reduced.argmax(axis=1)
    best = np.take_along_axis(reduced, best_channel[:, None], axis=1)[:, 0]
    return np.where(best > 0, best_channel, -1), best


def _dual_value(
    best: np.ndarray, budget: float, capacity: np.ndarray, multipliers: np.ndarray
) -> float:
    value = float(np.maximum(best, 0.0).sum())
    if np.isfinite(budget):
        value += multipliers[0] * budget
    limited = np.isfinite(capacity)
    return value + float(multipliers[1:][limited] @ capacity[limited])


def _minimize_dual(problem: _Problem, tol: float, start: np.ndarray | None = None) -> np.ndarray:
    """Multipliers [lambda, mu_1..mu_C] that (nearly) minimize the dual D."""
    n_channels = problem.n_channels
    active = np.zeros(n_channels + 1, dtype=bool)
    active[0] = problem.budget_is_binding()
    active[1:][problem.binding_channels()] = True
    multipliers = np.zeros(n_channels + 1) if start is None else np.where(active, start, 0.0)
    if not active.any():
        return np.zeros(n_channels + 1)
    m = problem.gain.shape[0]
    unbounded = np.full(n_channels + 1, np.inf)
    if m <= _DIRECT_MAX_CUSTOMERS:
        return _dual_descent(problem, active, multipliers, np.zeros_like(unbounded), unbounded, tol)

    # Warm start: the same problem on a systematic sample, budget and capacities scaled down.
    sample_size = max(_DIRECT_MAX_CUSTOMERS, m // _SAMPLE_RATIO)
    sample = np.unique(np.linspace(0, m - 1, sample_size).round().astype(np.int64))
    if start is None:
        share = sample.size / m
        sampled = replace(
            problem.subset(sample),
            budget=problem.budget * share,
            capacity=np.floor(problem.capacity * share),
        )
        multipliers = np.where(active, _minimize_dual(sampled, tol), 0.0)
    scale = _multiplier_scale(problem.subset(sample), multipliers, active)
    target = max(_ACTIVE_SET_MIN, int(_ACTIVE_SET_SHARE * m))
    for _ in range(_ACTIVE_SET_ROUNDS):
        if target >= m:
            zeros = np.zeros_like(unbounded)
            return _dual_descent(problem, active, multipliers, zeros, unbounded, tol)
        multipliers, hit_box = _refine_in_box(problem, active, multipliers, scale, target, tol)
        if not hit_box:
            break
        target *= 4
    return multipliers


def _multiplier_scale(sample: _Problem, multipliers: np.ndarray, active: np.ndarray) -> np.ndarray:
    """How far each multiplier may plausibly move: its value plus 1% of a typical price."""
    candidate = np.isfinite(sample.gain)
    cost = np.broadcast_to(sample.cost, sample.gain.shape)
    priced = candidate & (cost > 0)
    typical_ratio = float(np.median(sample.gain[priced] / cost[priced])) if priced.any() else 0.0
    scale = multipliers.astype(np.float64).copy()
    scale[0] += 0.01 * typical_ratio
    for channel in range(sample.n_channels):
        gains = sample.gain[candidate[:, channel], channel]
        scale[channel + 1] += 0.01 * float(np.median(gains)) if gains.size else 0.0
    return np.where(active, scale, 0.0)


def _refine_in_box(
    problem: _Problem,
    active: np.ndarray,
    centre: np.ndarray,
    scale: np.ndarray,
    target: int,
    tol: float,
) -> tuple[np.ndarray, bool]:
    """Minimize D in a box around ``centre`` over the customers whose choice can change there.

    With the box ``|y - centre| <= t * scale``, every priced option moves by at most
    ``t * (scale_lambda * cost + scale_mu)``. A customer whose best option beats every other by
    more than the two can move together keeps it throughout the box, so it enters D as a
    linear term: its spend and contact are taken out of budget and capacity. ``t`` is chosen so
    that ``target`` customers stay free. Returns the new multipliers and whether they ended on
    the box's edge (then the caller enlarges the box).
    """
    m, n_channels = problem.gain.shape
    reduced = _reduced_gain(problem.gain, problem.cost, centre)
    options = np.concatenate([reduced, np.zeros((m, 1))], axis=1)  # last column: no contact
    slack = np.concatenate(
        [np.broadcast_to(scale[0] * problem.cost + scale[1:], (m, n_channels)), np.zeros((m, 1))],
        axis=1,
    )
    best = options.argmax(axis=1)
    best_value = np.take_along_axis(options, best[:, None], axis=1)
    best_slack = np.take_along_axis(slack, best[:, None], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = (best_value - options) / (best_slack + slack)
    margin[(best_slack + slack) == 0] = np.inf
    margin[np.isnan(margin)] = np.inf  # -inf options (not candidates) never catch up
    np.put_along_axis(margin, best[:, None], np.inf, axis=1)
    switch_at = margin.min(axis=1)  # box half-width (in units of scale) that lets i switch
    width = float(np.partition(switch_at, target - 1)[target - 1])
    free = switch_at <= width
    fixed = np.flatnonzero(~free & (best < n_channels))

    fixed_channel = best[fixed]
    budget = problem.budget - float(problem.cost_at(fixed, fixed_channel).sum())
    capacity = problem.capacity - np.bincount(fixed_channel, minlength=n_channels)
    lower = np.maximum(centre - width * scale, 0.0)
    upper = centre + width * scale
    reduced_problem = replace(
        problem.subset(np.flatnonzero(free)), budget=budget, capacity=capacity
    )
    multipliers = _dual_descent(reduced_problem, active, centre.copy(), lower, upper, tol)
    at_edge = active & (
        (multipliers >= upper * (1 - 1e-12)) | ((lower > 0) & (multipliers <= lower * (1 + 1e-12)))
    )
    return multipliers, bool(at_edge.any())


def _dual_descent(
    problem: _Problem,
    active: np.ndarray,
    multipliers: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    tol: float,
) -> np.ndarray:
    """Exact coordinate descent on D within the box [lower, upper] (inactive entries stay 0)."""
    multipliers = np.clip(np.where(active, multipliers, 0.0), lower, upper)
    channels = np.flatnonzero(active[1:])
    previous = np.inf
    for _ in range(_MAX_DESCENT_CYCLES):
        if active[0]:
            multipliers[0] = _budget_step(problem, multipliers, lower[0], upper[0])
        for channel in channels:
            multipliers[channel + 1] = _capacity_step(
                problem, multipliers, channel, lower[channel + 1], upper[channel + 1]
            )
        _, best = _best_options(_reduced_gain(problem.gain, problem.cost, multipliers))
        value = _dual_value(best, problem.budget, problem.capacity, multipliers)
        if previous - value <= 0.01 * tol * max(abs(value), _TINY):
            break
        previous = value
    return multipliers


def _capacity_step(
    problem: _Problem, multipliers: np.ndarray, channel: int, lower: float, upper: float
) -> float:
    """Exact minimizer of D along mu[channel] in [lower, upper].

    Customer *i* takes the channel iff ``mu < advantage_i`` (its priced gain there minus its
    best alternative, 0 for no contact), so D's slope is ``capacity - #{advantage_i > mu}`` and
    the minimizer is the (capacity + 1)-th largest advantage.
    """
    capacity = problem.capacity[channel]
    if capacity < 0:
        return upper
    reduced = _reduced_gain(problem.gain, problem.cost, multipliers)
    in_channel = reduced[:, channel] + multipliers[channel + 1]
    reduced[:, channel] = -np.inf
    alternative = np.maximum(reduced.max(axis=1, initial=-np.inf), 0.0)
    advantage = (in_channel - alternative)[np.isfinite(in_channel)]
    if np.count_nonzero(advantage > lower) <= capacity:
        return lower
    rank = advantage.size - int(capacity) - 1
    return float(min(np.partition(advantage, rank)[rank], upper))


def _budget_step(problem: _Problem, multipliers: np.ndarray, lower: float, upper: float) -> float:
    """Exact minimizer of D along lambda in [lower, upper]: first lambda where spend <= budget.

    D's slope in lambda is ``budget - spend(lambda)`` and spend never increases with lambda.
    The bracket is narrowed by a few spend evaluations (first around the current lambda) until
    few customers change option inside it; their envelope breakpoints are then sorted to find
    the crossing exactly.
    """
    budget = problem.budget
    if budget < 0:  # fixed customers already overspend inside the box: push lambda up
        return upper
    intercept = problem.gain - multipliers[1:]
    cost = np.broadcast_to(problem.cost, intercept.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ceiling = np.where((cost > 0) & (intercept > 0), intercept / cost, 0.0).max(initial=0.0)
    # Above the ceiling only free options are worth anything, so spend is 0.
    high = min(upper, float(ceiling))
    low = lower
    if high <= low:
        return low

    def option_cost(price: float) -> np.ndarray:
        priced = intercept - price * cost
        best = priced.argmax(axis=1)
        rows = np.arange(best.size)
        return np.where(priced[rows, best] > 0, cost[rows, best], 0.0)

    cost_low = option_cost(low)
    if cost_low.sum() <= budget:
        return low
    cost_high = option_cost(high)
    guess = float(multipliers[0])
    probe, step, expanding = guess, 1e-3 * guess, True
    few = intercept.shape[0] // 16 + 64
    for _ in range(60):
        changing = cost_low != cost_high
        if np.count_nonzero(changing) <= few:
            break
        if not (low < probe < high) or not expanding:
            probe, expanding = 0.5 * (low + high), False
        cost_probe = option_cost(probe)
        overspent = cost_probe.sum() > budget
        if overspent:
            low, cost_low = probe, cost_probe
        else:
            high, cost_high = probe, cost_probe
        probe += step if overspent else -step
        step *= 4
    changing = cost_low != cost_high
    fixed_spend = float(cost_high[~changing].sum())
    walked = np.flatnonzero(changing)
    start_option, events = _envelope_events(
        intercept[walked],
        problem.cost[walked] if problem.cost.ndim == 2 else problem.cost,
        low,
        high,
    )
    contacted = start_option < problem.n_channels
    spend = fixed_spend + float(cost[walked[contacted], start_option[contacted]].sum())
    if spend <= budget:
        return low
    order = np.argsort(events.price, kind="stable")
    saved = np.cumsum(events.spend_drop[order])
    first = int(np.searchsorted(saved, spend - budget, side="left"))
    return float(events.price[order][first]) if first < saved.size else high


@dataclass
class _EnvelopeEvents:
    """Where, as the budget price lambda rises, a customer switches to a cheaper option."""

    row: np.ndarray
    price: np.ndarray  # lambda at the switch
    step: np.ndarray  # 0 for the customer's first switch, 1 for the second, ...
    from_option: np.ndarray  # option index, n_channels = no contact
    to_option: np.ndarray
    spend_drop: np.ndarray  # cost(from) - cost(to) > 0
    gain_drop: np.ndarray  # intercept(from) - intercept(to)


def _envelope_events(
    intercept: np.ndarray, cost: np.ndarray, start: float, stop: float
) -> tuple[np.ndarray, _EnvelopeEvents]:
    """Walk every customer's upper envelope of ``intercept - lambda * cost`` (and 0) in lambda.

    Returns the best option at ``lambda = start`` (ties to the cheaper option) and every switch
    with ``start <= lambda <= stop``. Each switch moves to a strictly cheaper option, so a
    customer switches at most ``n_channels`` times.
    """
    m, n_channels = intercept.shape
    values = np.concatenate([intercept, np.zeros((m, 1))], axis=1)
    costs = np.concatenate([np.broadcast_to(cost, (m, n_channels)), np.zeros((m, 1))], axis=1)
    priced = values - start * costs
    tied_best = priced >= priced.max(axis=1, keepdims=True)
    start_option = np.where(tied_best, costs, np.inf).argmin(axis=1)

    pieces: list[tuple[np.ndarray, ...]] = []
    rows = np.flatnonzero(costs[np.arange(m), start_option] > 0)
    option = start_option[rows]
    price = np.full(rows.size, float(start))
    step = 0
    while rows.size:
        whole = rows.size == m  # skip copying on the first pass
        row_values = values if whole else values[rows]
        row_costs = costs if whole else costs[rows]
        local = np.arange(rows.size)
        current_value, current_cost = row_values[local, option], row_costs[local, option]
        # Option j overtakes the current one at lambda = (value gap) / (cost saved), if cheaper.
        cost_saved = current_cost[:, None] - row_costs
        cheaper = cost_saved > 0
        crossing = current_value[:, None] - row_values
        np.divide(crossing, cost_saved, out=crossing, where=cheaper)
        crossing[~cheaper] = np.inf
        next_price = np.maximum(crossing.min(axis=1), price)  # max: round-off guard
        tied = np.less_equal(crossing, next_price[:, None], out=cheaper)
        np.copyto(cost_saved, row_costs)
        cost_saved[~tied] = np.inf
        next_option = cost_saved.argmin(axis=1)  # cheapest of the options crossing first
        next_cost, next_value = row_costs[local, next_option], row_values[local, next_option]
        inside = next_price <= stop
        pieces.append(
            (
                rows[inside],
                next_price[inside],
                np.full(int(inside.sum()), step),
                option[inside],
                next_option[inside],
                (current_cost - next_cost)[inside],
                (current_value - next_value)[inside],
            )
        )
        keep = inside & (next_cost > 0)
        rows, option, price = rows[keep], next_option[keep], next_price[keep]
        step += 1
    if not pieces:
        empty_int, empty_float = np.zeros(0, dtype=np.int64), np.zeros(0)
        pieces.append(
            (empty_int, empty_float, empty_int, empty_int, empty_int) + (empty_float,) * 2
        )
    columns = [np.concatenate(parts) for parts in zip(*pieces, strict=True)]
    return start_option, _EnvelopeEvents(*columns)


# ---- Repair -----------------------------------------------------------------------------------


def _repair_and_fill(problem: _Problem, choice: np.ndarray) -> np.ndarray:
    """Make a plan feasible (drop the weakest contacts), then add back whatever still fits.

    Over-full channels lose their lowest-gain contacts; an over-spent budget loses the contacts
    with the lowest gain per unit cost. Then, in rounds, each uncontacted customer proposes its
    best pair that still fits (by gain per cost when the budget is finite, else by gain) and the
    best proposals are accepted while budget and capacity last.
    """
    choice = choice.copy()
    gain, n_channels = problem.gain, problem.n_channels
    budget_limit = problem.budget + _BUDGET_RTOL * max(1.0, problem.budget)
    for channel in np.flatnonzero(np.isfinite(problem.capacity)):
        members = np.flatnonzero(choice == channel)
        excess = members.size - int(problem.capacity[channel])
        if excess > 0:
            weakest = np.argpartition(gain[members, channel], excess - 1)[:excess]
            choice[members[weakest]] = -1
    if np.isfinite(problem.budget):
        contacted = np.flatnonzero(choice >= 0)
        costs = problem.cost_at(contacted, choice[contacted])
        spend = float(costs.sum())
        if spend > budget_limit:
            with np.errstate(divide="ignore"):
                ratio = gain[contacted, choice[contacted]] / costs
            order = np.argsort(ratio, kind="stable")
            dropped_spend = np.cumsum(costs[order])
            last = int(np.searchsorted(dropped_spend, spend - budget_limit, side="left"))
            choice[contacted[order[: last + 1]]] = -1

    budget_is_finite = bool(np.isfinite(problem.budget))
    for _ in range(_FILL_ROUNDS):
        contacted = np.flatnonzero(choice >= 0)
        remaining = budget_limit - float(problem.cost_at(contacted, choice[contacted]).sum())
        spare = problem.capacity - np.bincount(choice[contacted], minlength=n_channels)
        free = np.flatnonzero(choice < 0)
        if free.size == 0 or remaining < 0:
            break
        free_gain = gain[free]
        free_cost = np.broadcast_to(
            problem.cost[free] if problem.cost.ndim == 2 else problem.cost, free_gain.shape
        )
        fits = np.isfinite(free_gain) & (free_cost <= remaining) & (spare > 0)[None, :]
        if budget_is_finite:
            with np.errstate(divide="ignore"):
                key = free_gain / free_cost
        else:
            key = free_gain
        key = np.where(fits, key, -np.inf)
        proposal = key.argmax(axis=1)
        proposes = fits[np.arange(free.size), proposal]
        if not proposes.any():
            break
        rows, channels = free[proposes], proposal[proposes]
        proposal_key = key[proposes, channels]
        proposal_gain = gain[rows, channels]
        order = np.lexsort((-proposal_gain, -proposal_key))
        rows, channels = rows[order], channels[order]
        rank_in_channel = _rank_within_groups(channels, n_channels)
        within_capacity = rank_in_channel < spare[channels]
        rows, channels = rows[within_capacity], channels[within_capacity]
        spend_so_far = np.cumsum(problem.cost_at(rows, channels))
        take = int(np.searchsorted(spend_so_far, remaining, side="right"))
        if take == 0:
            break
        choice[rows[:take]] = channels[:take]
    return choice


def _rank_within_groups(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """0, 1, 2, ... within each group, in the order the elements appear."""
    order = np.argsort(groups, kind="stable")
    sizes = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ranks = np.empty(groups.size, dtype=np.int64)
    ranks[order] = np.arange(groups.size) - np.repeat(starts, sizes)
    return ranks


# ---- Budget curve -----------------------------------------------------------------------------


def budget_curve(
    gain: ArrayLike,
    cost: ArrayLike,
    eligible: ArrayLike,
    budgets: Iterable[float],
    capacity: ArrayLike | None = None,
) -> pd.DataFrame:
    """Best plan value at each budget: where more budget stops paying.

    Without binding capacities the whole curve comes from one pass: every customer's upper
    envelope of ``gain - lambda * cost`` is walked once, its switches (upgrades to a dearer
    channel, or from no contact to a contact) are sorted by their price ``lambda`` and the plan
    at budget ``B`` is the longest prefix of upgrades that fits (feasible, and within one
    upgrade of the linear-relaxation optimum). With binding capacities each budget is solved by
    the Lagrangian method, warm-started from the previous budget.

    Parameters
    ----------
    gain, cost, eligible, capacity
        As in :func:`optimize_assignment`.
    budgets : iterable of float
        Budgets to evaluate (``>= 0``; ``inf`` allowed).

    Returns
    -------
    pandas.DataFrame
        One row per budget, in the order given: ``budget``, ``spend``, ``objective`` (total
        incremental value net of contact cost), ``contacts``, ``marginal_return`` (extra net
        value per extra unit of budget -- the budget's shadow price; 0 once more budget stops
        paying) and ``upper_bound`` (proven bound on the objective at that budget). ``objective``
        never decreases with the budget and reaches the unconstrained optimum once the budget
        covers it.
    """
    budget_values = np.asarray(list(budgets), dtype=np.float64)
    if budget_values.ndim != 1 or np.isnan(budget_values).any() or (budget_values < 0).any():
        raise OptimizeParameterError("`budgets` must be a list of numbers >= 0 (inf allowed).")
    problem = _prepare(gain, cost, eligible, np.inf, capacity)
    ascending = np.unique(budget_values)
    if problem.binding_channels().size == 0:
        table = _budget_curve_without_capacity(problem, ascending)
    else:
        table = _budget_curve_with_capacity(problem, ascending)
    positions = np.searchsorted(ascending, budget_values)
    return table.iloc[positions].reset_index(drop=True)


def _budget_curve_without_capacity(problem: _Problem, budgets: np.ndarray) -> pd.DataFrame:
    start_option, events = _envelope_events(problem.gain, problem.cost, 0.0, np.inf)
    n_channels = problem.n_channels
    # At lambda = inf every customer sits at its last option: a free channel or no contact.
    final_option = start_option.copy()
    last_step = np.argsort(events.step, kind="stable")
    final_option[events.row[last_step]] = events.to_option[last_step]
    free_contact = np.flatnonzero(final_option < n_channels)
    base_gain = float(problem.gain[free_contact, final_option[free_contact]].sum())
    base_contacts = free_contact.size

    # Raising the budget undoes the switches from the highest price down (later steps first).
    order = np.lexsort((-events.step, -events.price))
    price = events.price[order]
    spend = np.concatenate([[0.0], np.cumsum(events.spend_drop[order])])
    value = base_gain + np.concatenate([[0.0], np.cumsum(events.gain_drop[order])])
    contacts = base_contacts + np.concatenate(
        [[0], np.cumsum(events.to_option[order] == n_channels)]
    )
    slack = _BUDGET_RTOL * np.maximum(1.0, np.where(np.isfinite(budgets), budgets, 1.0))
    taken = np.searchsorted(spend[1:], budgets + slack, side="right")
    has_next = taken < price.size
    marginal = np.where(has_next, price[np.minimum(taken, price.size - 1)] if price.size else 0, 0)
    room = np.where(has_next, np.maximum(budgets - spend[taken], 0.0), 0.0)
    return pd.DataFrame(
        {
            "budget": budgets,
            "spend": spend[taken],
            "objective": value[taken],
            "contacts": contacts[taken].astype(np.int64),
            "marginal_return": marginal.astype(np.float64),
            "upper_bound": value[taken] + marginal * room,
        }
    )


def _budget_curve_with_capacity(problem: _Problem, budgets: np.ndarray) -> pd.DataFrame:
    records = []
    multipliers = None
    best: AssignmentResult | None = None
    for budget in budgets:
        priced = replace(problem, budget=float(budget))
        multipliers = _minimize_dual(priced, 1e-6, multipliers)
        choice, dual_value = _plan_at(priced, multipliers)
        plan = _result(priced, _repair_and_fill(priced, choice), dual_value, "lagrangian", {})
        # A plan that fits a smaller budget fits this one too, so the curve never goes down.
        if best is None or plan.objective >= best.objective:
            best = plan
        records.append(
            {
                "budget": float(budget),
                "spend": best.spend,
                "objective": best.objective,
                "contacts": best.contacts,
                "marginal_return": float(multipliers[0]),
                "upper_bound": max(plan.upper_bound, best.objective),
            }
        )
    return pd.DataFrame.from_records(records)
