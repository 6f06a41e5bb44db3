"""Synthetic retail/app data with known ground truth, for notebooks, tests, dashboards and benches.

:func:`generate_sample` simulates a plausible Chinese retail/app business — customers, orders,
events and two past campaigns — from a latent buy-till-you-die process whose parameters are kept
as *truth*, so that models (P(alive), expected orders and spend, uplift) can be graded against
what really happened after the snapshot date.

The process, per customer
-------------------------
* **Signup** spread over the history window (a share before it), denser towards the end.
* **First purchase** after signup with a personal hazard ("ready" buyers within days, browsers
  rarely); customers without a purchase by ``as_of`` are prospects in the data.
* **Repeat purchases** follow a Poisson process with a personal rate λ (Gamma heterogeneity,
  shifted by acquisition channel, city tier and occupation) in *shopping time*: calendar time
  stretched by weekend, 618 and Double 11 peaks. After each purchase the customer drops out
  with a personal probability p (Beta heterogeneity) — the BG/NBD story. A competitor launch
  (the churn wave) takes extra customers during two months; a forward simulation continues the
  same process beyond ``as_of`` for the truth.
* **Spend** per order is Gamma-Gamma-like (a personal mean, Gamma noise) and depends on the
  category; ~3 % of purchases are refunded in a separate negative row.
* **Campaigns**: randomized treatment/control; treated customers' orders really change
  (persuadables buy more, sleeping dogs drop out), with the true effect depending on features
  a marketer can observe at send time.

Everything is vectorized NumPy and fully determined by ``seed``. All knobs live in
:class:`SampleParameters`.

Modules: ``parameters`` (knobs and vocabularies), ``timeline`` (calendar and shopping time),
``customers``, ``lives`` (the buy-till-you-die process), ``campaigns``, ``orders``, ``touches``,
``events``, ``truth`` (one per table), ``generate`` (:func:`generate_sample`) and ``write``
(files, READMEs and ``custops sample``).
"""

from __future__ import annotations

from custops.tools.sample.generate import (
    DEFAULT_CHUNK_CUSTOMERS,
    SampleData,
    generate_sample,
    iter_sample_chunks,
)
from custops.tools.sample.parameters import (
    CITIES,
    GENDERS,
    HABITS,
    OCCUPATIONS,
    TOUCH_CHANNELS,
    TRUE_SEGMENTS,
    AcquisitionChannelProfile,
    CampaignSpec,
    SampleParameters,
)
from custops.tools.sample.write import SampleFiles, cli_sample, write_sample, write_sample_in_chunks

__all__ = [
    "CITIES",
    "DEFAULT_CHUNK_CUSTOMERS",
    "GENDERS",
    "HABITS",
    "OCCUPATIONS",
    "TOUCH_CHANNELS",
    "TRUE_SEGMENTS",
    "AcquisitionChannelProfile",
    "CampaignSpec",
    "SampleData",
    "SampleFiles",
    "SampleParameters",
    "cli_sample",
    "generate_sample",
    "iter_sample_chunks",
    "write_sample",
    "write_sample_in_chunks",
]
