"""Every query of the store, written once for both backends, grouped by what it is about."""

from __future__ import annotations

from digest.store.bounces import BounceQueries
from digest.store.campaigns import CampaignQueries
from digest.store.carried import CarriedQueries
from digest.store.clicks import ClickQueries
from digest.store.erasure import ErasureQueries
from digest.store.espcalls import ESPCallQueries
from digest.store.fetchcache import FetchCacheQueries
from digest.store.inbox import InboxQueries
from digest.store.issues import FactQueries, IssueQueries
from digest.store.listchecks import ListCheckQueries
from digest.store.progress import ProgressQueries
from digest.store.reports import ReportQueries
from digest.store.runlocks import RunLockQueries
from digest.store.schedules import ScheduleQueries
from digest.store.signups import SignupQueries
from digest.store.suppressions import SuppressionQueries

__all__ = ["Queries"]


class Queries(IssueQueries, FactQueries, SuppressionQueries, CampaignQueries, ListCheckQueries, FetchCacheQueries,
              ScheduleQueries, RunLockQueries, SignupQueries, BounceQueries, ProgressQueries, CarriedQueries,
              ESPCallQueries, InboxQueries, ErasureQueries, ClickQueries,
              ReportQueries):
    """The whole query surface; a backend adds connections and dialect."""
