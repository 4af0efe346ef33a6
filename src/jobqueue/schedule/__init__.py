"""Cron schedules: jobs created at the ticks of a cron expression, each tick exactly once.

``expression`` parses and computes ticks (zones, DST), ``values`` holds what is stored,
``rows`` the tables' reads and writes, ``book`` the operations, ``firing`` the loop every API
runs, ``routes`` the HTTP API (``schemas`` its documented answers), ``declared`` the schedules
declared in code, ``words`` the dashboard's description of an expression.
"""
