"""Health of a BTYD or Gamma-Gamma fit: the findings that say whether a fit may drive decisions.

:class:`_HealthChecks` is mixed into every fitter (:class:`custops.models.btyd_fit.
_MaximumLikelihoodFitter`): its thresholds are class attributes (override them on a subclass
or an instance), :meth:`~_HealthChecks.health` lists the findings and
:attr:`~_HealthChecks.usable` says whether any is an error. A fitter provides
``_fitted_params()`` (the parameters, or an error when not fitted), ``_box_bound`` (the edge
of the optimiser's log-parameter box) and the fit statistics ``converged_``, ``n_iter_``,
``hessian_condition_``, ``n_customers_`` (any may be missing on a loaded artifact: that check
is skipped). :func:`_hessian_condition` computes the statistic behind ``poorly_determined``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np


def _finding(code: str, severity: str, **numbers: Any) -> dict[str, Any]:
    """A health finding: a code, a severity and the numbers behind it (None values dropped)."""
    return {"code": code, "severity": severity, **{k: v for k, v in numbers.items() if v is not None}}


def _hessian_condition(log_likelihood_and_gradient, params: np.ndarray,
                       step: float = 1e-4) -> float:
    """Condition number of the observed information (the Hessian of −log-likelihood) in
    log-parameters at the fit: largest over smallest eigenvalue, by central differences of
    the analytic gradient (2 × parameters gradient evaluations).

    In log-parameters it does not depend on the time or money unit. A large value means some
    combination of the parameters is barely pinned down by the data (the likelihood is a long
    flat ridge: e.g. r and alpha growing together); inf when the Hessian is not positive
    definite (flat or curving up: not a proper maximum)."""
    phi = np.log(params)

    def gradient(log_params: np.ndarray) -> np.ndarray:
        theta = np.exp(log_params)
        _, grad = log_likelihood_and_gradient(*theta)
        return -theta * np.asarray(grad, dtype=np.float64)

    k = len(phi)
    hessian = np.empty((k, k))
    for i in range(k):
        shift = np.zeros(k)
        shift[i] = step
        hessian[:, i] = (gradient(phi + shift) - gradient(phi - shift)) / (2.0 * step)
    hessian = (hessian + hessian.T) / 2.0
    if not np.all(np.isfinite(hessian)):
        return math.inf
    eigenvalues = np.linalg.eigvalsh(hessian)
    if eigenvalues[0] <= 0:
        return math.inf
    return float(eigenvalues[-1] / eigenvalues[0])


class _HealthChecks:
    """The health findings of a maximum-likelihood fit (see the module docstring)."""

    _box_bound: ClassVar[float] = math.inf

    #: Fewer customers with a repeat purchase than this: ``few_repeat_buyers`` error (the
    #: dropout and spend parameters rest on the repeat buyers alone).
    min_repeat_buyers: int = 30
    #: A share of repeat buyers below this: ``few_repeat_buyers`` warning (window too short?).
    min_repeat_share: float = 0.05
    #: Dropout probability below this (per purchase for BG/NBD and MBG/NBD, within the mean
    #: customer age for Pareto/NBD): ``boundary`` error with ``limit="no_dropout"``.
    min_dropout: float = 1e-3
    #: A Gamma shape (r, s, q) or Beta concentration (a + b) above this (a coefficient of
    #: variation of a few %): ``boundary`` warning (the population is treated as homogeneous).
    max_shape: float = 1e3

    #: The Hessian of −log-likelihood in log-parameters at the fit with a condition number
    #: above this: ``poorly_determined`` warning. Measured: 70–900 on CDNOW and the sample
    #: (all models) and on well-identified simulations; 6e4–1.5e5 where a parameter pair runs
    #: off together (homogeneous populations, a Pareto/NBD dropout barely seen).
    max_hessian_condition: float = 1e4

    def _fitted_params(self) -> dict[str, float]:
        raise NotImplementedError

    # -- health ------------------------------------------------------------------------------

    def _repeat_buyers(self) -> float | None:
        return getattr(self, "n_repeat_buyers_", None)

    def _model_findings(self, params: dict[str, float]) -> list[dict[str, Any]]:
        return []

    def health(self) -> list[dict[str, Any]]:
        """Problems with this fit, as ``{"code", "severity", **numbers}`` dicts (empty: none).

        Codes (the words for them are made by the caller):

        * ``not_converged`` (error): the optimizer did not reach a maximum (``n_iter``).
        * ``boundary``: a parameter at the edge of its range, ``limit`` saying which edge:
          ``"box"`` (error; ``parameter`` ran to exp(+-30)), ``"no_dropout"`` (error; the
          estimated dropout probability ``value`` is below ``threshold`` =
          :attr:`min_dropout`: no evidence that customers stop buying, so P(alive) is not
          informative), ``"homogeneous_purchase_rate"`` (r), ``"homogeneous_dropout_rate"``
          (Pareto/NBD s), ``"homogeneous_dropout_probability"`` (BG/NBD and MBG/NBD a + b),
          ``"homogeneous_spend"`` (Gamma-Gamma q) (warnings: a Gamma shape or Beta
          concentration ``value`` above :attr:`max_shape`, i.e. no heterogeneity left: r and
          alpha, or a and b, or s and beta, run off to infinity together), and
          ``"infinite_mean_spend"`` (error; Gamma-Gamma q <= 1).
        * ``poorly_determined`` (warning): the condition number ``value`` of the Hessian of
          −log-likelihood in log-parameters exceeds ``threshold`` =
          :attr:`max_hessian_condition` (no ``value`` and ``indefinite``: the Hessian is not
          positive definite, not a proper maximum): some combination of the
          parameters is barely determined by the data, so they should not be read one by one.
        * ``few_repeat_buyers``: ``n_repeat_buyers`` below :attr:`min_repeat_buyers` (error),
          or their ``share`` of the customers below :attr:`min_repeat_share` (warning).
        * Gamma-Gamma only: ``nonpositive_spend_excluded`` (warning; ``n_excluded`` customers
          dropped for a zero or negative average spend) and ``spend_frequency_correlation``
          (warning; ``value`` = Pearson correlation of frequency and average spend, beyond
          +-``threshold``: the model assumes they are independent).

        A fit with an ``error`` finding must not be used for decisions (see :attr:`usable`).
        Checks that need fit statistics a loaded artifact lacks are skipped.
        """
        params = self._fitted_params()
        findings: list[dict[str, Any]] = []
        if getattr(self, "converged_", None) is False:
            findings.append(_finding("not_converged", "error", n_iter=getattr(self, "n_iter_", None)))
        for name, value in params.items():
            if abs(math.log(value)) >= self._box_bound - 1e-6:
                findings.append(
                    _finding("boundary", "error", limit="box", parameter=name, value=value)
                )
        findings.extend(self._model_findings(params))
        condition = getattr(self, "hessian_condition_", None)
        if condition is not None and not math.isnan(condition) and (
                condition > self.max_hessian_condition):
            findings.append(_finding(
                "poorly_determined", "warning", threshold=self.max_hessian_condition,
                value=condition if math.isfinite(condition) else None,
                indefinite=True if math.isinf(condition) else None))
        n_repeat = self._repeat_buyers()
        n_total = getattr(self, "n_customers_", None)
        if n_repeat is not None:
            share = n_repeat / n_total if n_total else None
            if n_repeat < self.min_repeat_buyers:
                findings.append(
                    _finding(
                        "few_repeat_buyers",
                        "error",
                        n_repeat_buyers=n_repeat,
                        share=share,
                        threshold=self.min_repeat_buyers,
                    )
                )
            elif share is not None and share < self.min_repeat_share:
                findings.append(
                    _finding(
                        "few_repeat_buyers",
                        "warning",
                        n_repeat_buyers=n_repeat,
                        share=share,
                        threshold=self.min_repeat_share,
                    )
                )
        return findings

    @property
    def usable(self) -> bool:
        """True when :meth:`health` reports no error: the fit may be used for decisions."""
        return not any(finding["severity"] == "error" for finding in self.health())
