"""Enrolment and contributions (参保与缴费): pure rules over the policy in force.

- :mod:`.terms` — the contribution and enrolment parameters a region has on a date;
- :mod:`.contribution` — employee bases, rates and account credits; resident standards,
  fiscal subsidy and the assistance subsidy of the individual part;
- :mod:`.waiting` — when benefits start after a late or interrupted enrolment
  (待遇等待期) and the continuous-enrolment incentive on the 大病 cap;
- :mod:`.history` — contribution years carried across regions (转移接续), arrears
  and back payment (欠费补缴).

Everything is integer fen and basis points; nothing here touches a database.
"""
