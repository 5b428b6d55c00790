"""Calibration against SSDA903 returns: import and cleaning, estimation, the fitted scenario,
backtests, and the export of simulated runs as synthetic 903 files."""
