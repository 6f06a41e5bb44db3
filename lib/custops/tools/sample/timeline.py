"""The generator's calendar: float days since an epoch and the seasonal "shopping time"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custops.errors import ParameterError
from custops.tools.sample.parameters import SampleParameters

__all__ = ["Calendar", "SECONDS_PER_DAY", "make_calendar", "to_seconds"]


SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Calendar:
    """Day arithmetic and the seasonal intensity (times are float days since ``epoch``)."""

    epoch: np.datetime64
    window_start: float
    as_of_end: float
    horizon: float
    wave_start: float
    wave_end: float
    intensity: np.ndarray
    cumulative: np.ndarray

    def shopping_time(self, t: np.ndarray) -> np.ndarray:
        """Map calendar days to cumulative intensity (piecewise linear)."""
        day = np.clip(np.floor(t).astype(np.int64), 0, len(self.intensity) - 1)
        return self.cumulative[day] + self.intensity[day] * (t - day)

    def calendar_time(self, u: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`shopping_time`."""
        return np.interp(u, self.cumulative, np.arange(len(self.cumulative), dtype=float))

    def day_of(self, date: str) -> float:
        return float((np.datetime64(date, "D") - self.epoch).astype(np.int64))

    def to_datetime(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds since the epoch → ``datetime64[ns]``; negative seconds mean missing."""
        stamp = (self.epoch.astype("datetime64[s]") + seconds.astype("timedelta64[s]"))
        stamp = stamp.astype("datetime64[ns]")
        stamp[seconds < 0] = np.datetime64("NaT")
        return stamp


def to_seconds(t: np.ndarray) -> np.ndarray:
    """Float days → whole seconds (floor), so a time before a day's end stays in that day."""
    return np.floor(t * SECONDS_PER_DAY).astype(np.int64)


def parse_as_of(as_of: str) -> np.datetime64:
    """The snapshot day, or a :class:`~custops.errors.ParameterError` naming the bad value."""
    try:
        return np.datetime64(as_of, "D")
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from exc


def make_calendar(as_of: str, years: float, params: SampleParameters) -> Calendar:
    as_of_day = parse_as_of(as_of)
    window_days = int(round(years * 365.25))
    epoch = as_of_day + 1 - window_days - params.signup_before_window_max_days - 1
    as_of_end = float((as_of_day + 1 - epoch).astype(np.int64))
    window_start = as_of_end - window_days
    horizon = as_of_end + params.forward_days
    n_days = int(horizon)
    dates = epoch + np.arange(n_days)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    intensity = np.where(weekday >= 5, params.weekend_multiplier, 1.0)
    first_year = int(str(epoch)[:4])
    last_year = int(str(dates[-1])[:4])
    for year in range(first_year, last_year + 1):
        for month, day, peak, half_width in params.shopping_festivals:
            centre = int((np.datetime64(f"{year}-{month:02d}-{day:02d}") - epoch).astype(int))
            for offset in range(-half_width, half_width + 1):
                if 0 <= centre + offset < n_days:
                    extra = (peak - 1.0) * params.festival_decay ** abs(offset)
                    intensity[centre + offset] *= 1.0 + extra
    intensity = intensity / intensity.mean()
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    wave_start = as_of_end - 1 - params.churn_wave_start_days_before_as_of
    return Calendar(
        epoch=epoch, window_start=window_start, as_of_end=as_of_end, horizon=float(n_days),
        wave_start=wave_start, wave_end=wave_start + params.churn_wave_length_days,
        intensity=intensity, cumulative=cumulative,
    )
