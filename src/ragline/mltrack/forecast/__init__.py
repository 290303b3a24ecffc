"""Forecasting one numeric target over time: the seasonal-naive baseline every forecast must
beat; lags, the temporal split and the learners come from `ragline.mltrack.tabular`."""
